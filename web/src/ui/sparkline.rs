//! The small line charts of the services page, the failures page and the
//! load report: a series drawn as one SVG polyline in a fixed box.

/// A sparkline's box, in SVG user units; the templates size their `<svg>`
/// with it too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sparkline {
    pub width: f64,
    pub height: f64,
}

impl Sparkline {
    /// `values` as polyline points, spread evenly over the width, zero on
    /// the bottom and the largest on the top, each a unit in from the edge
    /// so that the stroke is not cut off.
    pub fn points(&self, values: &[f64]) -> String {
        let values: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        self.gapped(&values)
    }

    /// `points` of a series with slices that have no value (no requests,
    /// so no latency): the line joins the slices that have one.
    pub fn gapped(&self, values: &[Option<f64>]) -> String {
        let max = values
            .iter()
            .flatten()
            .copied()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let step = self.width / (values.len().max(2) - 1) as f64;
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let y = self.height - 1.0 - (*v)? / max * (self.height - 2.0);
                Some(format!("{:.1},{y:.1}", i as f64 * step))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `points` of counts.
    pub fn counts(&self, counts: &[u64]) -> String {
        let values: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
        self.points(&values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(width: f64, height: f64, values: &[f64], expected: &str) {
        let spark = Sparkline { width, height };
        assert_eq!(
            spark.points(values),
            expected,
            "{values:?} in {width}×{height}"
        );
    }

    #[test]
    fn series_fill_their_box() {
        check(96.0, 20.0, &[0.0, 2.0, 1.0], "0.0,19.0 48.0,1.0 96.0,10.0");
        check(
            120.0,
            20.0,
            &[0.0, 2.0, 1.0],
            "0.0,19.0 60.0,1.0 120.0,10.0",
        );
        check(72.0, 16.0, &[0.5, 0.25], "0.0,1.0 72.0,8.0");
        // Nothing yet: a flat line along the bottom.
        check(96.0, 20.0, &[0.0, 0.0], "0.0,19.0 96.0,19.0");
        check(120.0, 20.0, &[7.0], "0.0,1.0");
        check(120.0, 20.0, &[], "");
        let spark = Sparkline {
            width: 96.0,
            height: 20.0,
        };
        assert_eq!(
            spark.gapped(&[Some(1.0), None, Some(2.0)]),
            "0.0,10.0 96.0,1.0"
        );
        assert_eq!(
            Sparkline {
                width: 96.0,
                height: 20.0
            }
            .counts(&[0, 2, 1]),
            "0.0,19.0 48.0,1.0 96.0,10.0"
        );
    }
}
