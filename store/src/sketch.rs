//! A sketch of durations whose percentiles are within 1 % of the exact
//! ones and which merges by adding counts: what a rollup keeps of a
//! minute's request durations (docs/adr/0019).
//!
//! The buckets are DDSketch's (Masson, Rim and Lee, VLDB 2019): bucket `i`
//! holds the values in `(γ^(i-1), γ^i]` with `γ = (1 + α) / (1 - α)`, and
//! stands for `2γ^i / (γ + 1)`, which is within `α` of every value in it.
//! A percentile is found by rank as the exact `percentile` finds it
//! (nearest rank, no interpolation), so it is the stand-in of the bucket holding
//! the exact answer: off by at most `α` of it. The smallest and largest
//! values are kept exactly, and answers are held between them, so that a
//! minute of one request, or the first and last rank, come out exact.
//!
//! Encoded: LEB128 count of values ≤ 0, smallest and largest (zigzag),
//! number of buckets, then per bucket, by index, the index's difference
//! from the previous one (zigzag) and its count. A minute of one
//! endpoint's requests spread over two orders of magnitude takes at most
//! some 230 buckets; typically a few dozen.

use crate::error::{Result, StoreError};
use crate::varint::{Reader, put_i64, put_u64};

/// The relative error of every percentile a sketch gives.
pub const RELATIVE_ERROR: f64 = 0.01;

const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// The nearest-rank percentile (`q` in 0..=1) of sorted values: the smallest
/// value with at least `q` of all values at or below it. Exact, no interpolation.
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    /// Values ≤ 0: a span that ended as it started, or a clock that went back.
    zeros: u64,
    /// The smallest and largest values added; meaningless while empty.
    min: i64,
    max: i64,
    /// `(bucket index, count)`, by index, no count 0.
    buckets: Vec<(i32, u64)>,
}

fn index(value: i64) -> i32 {
    ((value as f64).ln() / GAMMA.ln()).ceil() as i32
}

fn stand_in(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

impl Sketch {
    pub fn count(&self) -> u64 {
        self.zeros + self.buckets.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// Adds `value` `n` times.
    pub fn add_n(&mut self, value: i64, n: u64) {
        if n == 0 {
            return;
        }
        let mut one = Sketch::default();
        one.add(value);
        one.zeros *= n;
        one.buckets.iter_mut().for_each(|b| b.1 *= n);
        self.merge(&one);
    }

    pub fn add(&mut self, value: i64) {
        if self.count() == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        if value <= 0 {
            self.zeros += 1;
            return;
        }
        let i = index(value);
        match self.buckets.binary_search_by_key(&i, |(at, _)| *at) {
            Ok(at) => self.buckets[at].1 += 1,
            Err(at) => self.buckets.insert(at, (i, 1)),
        }
    }

    /// Adds every value of `other`, as if each had been added here.
    pub fn merge(&mut self, other: &Sketch) {
        if other.count() == 0 {
            return;
        }
        if self.count() == 0 {
            *self = other.clone();
            return;
        }
        self.zeros += other.zeros;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let mut merged = Vec::with_capacity(self.buckets.len().max(other.buckets.len()));
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&(i, n)), Some(&&(j, m))) if i == j => {
                    a.next();
                    b.next();
                    (i, n + m)
                }
                (Some(&&x), Some(&&y)) => {
                    if x.0 < y.0 {
                        a.next();
                        x
                    } else {
                        b.next();
                        y
                    }
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, Some(&&y)) => {
                    b.next();
                    y
                }
                (None, None) => break,
            };
            merged.push(next);
        }
        self.buckets = merged;
    }

    /// The nearest-rank percentile (`q` in 0..=1) within `RELATIVE_ERROR`
    /// of the exact one; `None` when empty.
    pub fn percentile(&self, q: f64) -> Option<i64> {
        let n = self.count();
        self.at_rank((q * n as f64).ceil() as u64)
    }

    /// The `rank`-th smallest value (from 1; held within `1..=count`), as
    /// `percentile` finds it.
    pub fn at_rank(&self, rank: u64) -> Option<i64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = rank.clamp(1, n);
        if rank == n {
            return Some(self.max);
        }
        if rank == 1 {
            return Some(self.min);
        }
        if rank <= self.zeros {
            return Some(self.min);
        }
        let mut seen = self.zeros;
        for &(i, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                let value = stand_in(i).round() as i64;
                return Some(value.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn encode(&self, w: &mut Vec<u8>) {
        put_u64(w, self.zeros);
        put_i64(w, self.min);
        put_i64(w, self.max);
        put_u64(w, self.buckets.len() as u64);
        let mut previous = 0i64;
        for &(i, n) in &self.buckets {
            put_i64(w, i64::from(i) - previous);
            put_u64(w, n);
            previous = i64::from(i);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(8 + self.buckets.len() * 3);
        self.encode(&mut w);
        w
    }

    /// What `encode` wrote; damaged data is an error, never a wrong sketch.
    pub fn decode(data: &[u8]) -> Result<Sketch> {
        let mut r = Reader::new(data, "latency sketch");
        let sketch = Sketch::read(&mut r)?;
        r.finish()?;
        Ok(sketch)
    }

    /// A sketch `encode` wrote amid other data.
    pub fn read(r: &mut Reader<'_>) -> Result<Sketch> {
        let zeros = r.u64()?;
        let (min, max) = (r.i64()?, r.i64()?);
        let n = r.u64()?;
        let mut buckets = Vec::with_capacity(n.min(4096) as usize);
        let mut previous = 0i64;
        for _ in 0..n {
            let i = previous.saturating_add(r.i64()?);
            let count = r.u64()?;
            let (Ok(index), true) = (i32::try_from(i), count > 0) else {
                return Err(StoreError::Corrupt(format!(
                    "latency sketch: a bucket {i} of {count}"
                )));
            };
            if buckets.last().is_some_and(|&(last, _)| last >= index) {
                return Err(StoreError::Corrupt(
                    "latency sketch: buckets out of order".into(),
                ));
            }
            buckets.push((index, count));
            previous = i;
        }
        Ok(Sketch {
            zeros,
            min,
            max,
            buckets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values (xorshift), scaled by `shape`.
    fn values(n: usize, seed: u64, shape: fn(f64) -> i64) -> Vec<i64> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                shape((x >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    #[test]
    fn percentiles_are_within_the_bound_of_the_exact_ones() {
        let cases: Vec<(&str, Vec<i64>)> = vec![
            ("one value", vec![250_000_000]),
            ("two values", vec![50, 900]),
            ("all equal", vec![7_000; 100]),
            (
                "uniform 5–300 ms",
                values(10_000, 1, |u| 5_000_000 + (u * 295e6) as i64),
            ),
            (
                "log-uniform 1 µs–10 s",
                values(10_000, 2, |u| (1e3 * 1e7f64.powf(u)) as i64),
            ),
            (
                "a tail: 1 % at 2 s",
                values(5_000, 3, |u| {
                    if u < 0.99 {
                        20_000_000 + (u * 1e7) as i64
                    } else {
                        2_000_000_000
                    }
                }),
            ),
            (
                "with zeros",
                values(1_000, 4, |u| if u < 0.3 { 0 } else { (u * 1e6) as i64 }),
            ),
            (
                "small integers",
                values(1_000, 5, |u| 1 + (u * 20.0) as i64),
            ),
        ];
        for (name, mut data) in cases {
            let mut sketch = Sketch::default();
            for &v in &data {
                sketch.add(v);
            }
            data.sort_unstable();
            assert_eq!(sketch.count(), data.len() as u64, "{name}");
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let exact = percentile(&data, q).unwrap();
                let got = sketch.percentile(q).unwrap();
                // Rounding to whole nanoseconds may add one.
                let bound = (exact as f64 * RELATIVE_ERROR).ceil() as i64 + 1;
                assert!(
                    (got - exact).abs() <= bound,
                    "{name}, q {q}: {got} against exact {exact}"
                );
            }
            assert_eq!(sketch.percentile(1.0), data.last().copied(), "{name}: max");
            assert_eq!(sketch.percentile(0.0), data.first().copied(), "{name}: min");
        }
        assert_eq!(Sketch::default().percentile(0.5), None);
    }

    #[test]
    fn merged_parts_answer_as_the_whole() {
        let data = values(3_000, 9, |u| (1e4 * 1e4f64.powf(u)) as i64);
        let mut whole = Sketch::default();
        let mut parts = vec![Sketch::default(); 7];
        for (i, &v) in data.iter().enumerate() {
            whole.add(v);
            parts[i % 7].add(v);
        }
        let mut merged = Sketch::default();
        for part in &parts {
            merged.merge(part);
        }
        merged.merge(&Sketch::default());
        assert_eq!(merged, whole);
    }

    #[test]
    fn sketches_come_back_as_encoded_and_damage_is_refused() {
        let mut sketch = Sketch::default();
        for v in [0, 3, 1_000, 1_000, 52_000_000, 9_000_000_000] {
            sketch.add(v);
        }
        let bytes = sketch.to_bytes();
        assert_eq!(Sketch::decode(&bytes).unwrap(), sketch);
        assert_eq!(
            Sketch::decode(&Sketch::default().to_bytes()).unwrap(),
            Sketch::default()
        );
        for cut in 0..bytes.len() {
            assert!(Sketch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Sketch::decode(&longer).is_err());
    }
}
