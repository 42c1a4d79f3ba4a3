//! The bounded queue in front of the store and the writer behind it.
//!
//! Exports wait in the queue as whole batches; the queue is bounded by items
//! (spans + log records + metric points), not requests, through a semaphore
//! whose permits each batch holds until it is committed. A writer task takes
//! everything waiting (up to `max_batch_items`), writes it in a single
//! transaction (group commit), then tells every export the outcome. SQLite
//! gets one writer (it admits one at a time); PostgreSQL several, so that one
//! batch is prepared while another commits. An export
//! is answered with success only after that commit.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use store::{Batch, PreparedBatch, StoreError, Writer};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::self_metrics::SelfMetrics;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Items that may wait for the writer; past this, exports are refused as overloaded.
    pub queue_items: usize,
    /// Items one transaction takes at most.
    pub max_batch_items: usize,
    /// Added before every write. A test hook to provoke overload; zero otherwise.
    pub write_delay: Duration,
}

impl Default for PipelineConfig {
    fn default() -> PipelineConfig {
        PipelineConfig {
            queue_items: 131_072,
            max_batch_items: 16_384,
            write_delay: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    #[error("queue full: {waiting} items wait for the database")]
    Overloaded { waiting: usize },
    #[error("database unavailable: {0}")]
    Store(String),
    #[error("no room for more data: {0}")]
    NoRoom(String),
    #[error("shutting down")]
    ShuttingDown,
}

struct Job {
    batch: PreparedBatch,
    done: oneshot::Sender<Result<(), SubmitError>>,
    /// Held until the job is answered: the queue counts it until then.
    permit: OwnedSemaphorePermit,
}

/// The sending side; cheap to clone. The writer stops once every clone is dropped
/// and the queue is drained.
#[derive(Clone)]
pub struct Pipeline {
    writer: Writer,
    jobs: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    capacity: usize,
    /// Why exports are refused for want of room, while they are.
    no_room: Arc<RwLock<Option<String>>>,
    /// What is wrong with the database, as the writers last found it.
    health: Arc<Health>,
}

/// The last failure of a commit or of an idle writer's probe, cleared by
/// the next success; a full disk only by a commit, as a probe writes
/// nothing. Logged when it changes rather than once an export, so that a
/// database gone away says so in one line, not thousands.
#[derive(Default)]
struct Health(RwLock<Option<Failure>>);

struct Failure {
    message: String,
    disk_full: bool,
}

impl Health {
    fn note(&self, outcome: Result<(), StoreError>, probe: bool) {
        let mut failing = self.0.write().unwrap_or_else(|e| e.into_inner());
        match (failing.as_ref(), outcome) {
            (Some(failure), Ok(())) if probe && failure.disk_full => {}
            (Some(_), Ok(())) => {
                tracing::info!("the database takes writes again");
                *failing = None;
            }
            (None, Ok(())) => {}
            (before, Err(err)) => {
                let message = err.to_string();
                if before.is_none_or(|failure| failure.message != message) {
                    tracing::error!(
                        error = %message,
                        "the database refuses writes; exports are refused as retryable until it takes one"
                    );
                }
                let disk_full = matches!(err, StoreError::DiskFull(_));
                *failing = Some(Failure { message, disk_full });
            }
        }
    }

    fn failure(&self) -> Option<String> {
        let failing = self.0.read().unwrap_or_else(|e| e.into_inner());
        failing.as_ref().map(|failure| failure.message.clone())
    }
}

/// How long a writer waits for work before it probes the database instead,
/// so that readiness stays current while nothing is sent.
const PROBE_AFTER: Duration = Duration::from_secs(5);

impl Pipeline {
    pub fn start(
        writer: Writer,
        config: PipelineConfig,
        metrics: Arc<SelfMetrics>,
    ) -> (Pipeline, JoinHandle<()>) {
        let capacity = config.queue_items.max(1);
        let permits = Arc::new(Semaphore::new(capacity));
        let (jobs, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        let health = Arc::new(Health::default());
        let writers: Vec<_> = (0..writer.concurrency())
            .map(|_| {
                tokio::spawn(run_writer(
                    writer.clone(),
                    config.clone(),
                    queue.clone(),
                    health.clone(),
                    metrics.clone(),
                ))
            })
            .collect();
        let drained = tokio::spawn(async move {
            for task in writers {
                let _ = task.await;
            }
        });
        metrics.set_queue(permits.clone(), capacity);
        (
            Pipeline {
                writer,
                jobs,
                permits,
                capacity,
                no_room: Arc::default(),
                health,
            },
            drained,
        )
    }

    /// Refuses every export, as retryable, with `reason` until called
    /// again with `None`: the database is at its size limit with nothing
    /// left that may go, and a write would fail half-way or fill the disk.
    pub fn set_no_room(&self, reason: Option<String>) {
        *self.no_room.write().unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// Whether exports can be stored now, from what the writers last saw
    /// (the last commit, or a probe while idle) and the room left: no
    /// database round trip, so it answers at once under any load.
    pub fn readiness(&self) -> Result<(), String> {
        let no_room = self.no_room.read().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = &*no_room {
            return Err(SubmitError::NoRoom(reason.clone()).to_string());
        }
        match self.health.failure() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Prepares the batch (`Writer::prepare`, here on the receiving task,
    /// many at once, rather than in the writer), queues it and waits until
    /// it is committed.
    pub async fn submit(&self, batch: Batch) -> Result<(), SubmitError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(reason) = &*self.no_room.read().unwrap_or_else(|e| e.into_inner()) {
            return Err(SubmitError::NoRoom(reason.clone()));
        }
        // A batch larger than the whole queue still gets in, alone.
        let wanted = batch.n_items().clamp(1, self.capacity) as u32;
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(wanted)
            .map_err(|_| SubmitError::Overloaded {
                waiting: self.capacity - self.permits.available_permits(),
            })?;
        let batch = self
            .writer
            .prepare(batch)
            .map_err(|err| SubmitError::Store(err.to_string()))?;
        let (done, committed) = oneshot::channel();
        self.jobs
            .send(Job {
                batch,
                done,
                permit,
            })
            .map_err(|_| SubmitError::ShuttingDown)?;
        committed.await.unwrap_or(Err(SubmitError::ShuttingDown))
    }
}

/// One writer: takes what waits (holding the queue only while taking), then
/// writes it while the other writers, if the store has several, take the next.
async fn run_writer(
    writer: Writer,
    config: PipelineConfig,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    health: Arc<Health>,
    metrics: Arc<SelfMetrics>,
) {
    loop {
        let jobs = {
            let mut queue = queue.lock().await;
            let first = match tokio::time::timeout(PROBE_AFTER, queue.recv()).await {
                Ok(Some(first)) => first,
                Ok(None) => break,
                Err(_idle) => {
                    drop(queue);
                    health.note(writer.probe().await, true);
                    continue;
                }
            };
            let mut n_items = first.batch.n_items();
            let mut jobs = vec![first];
            while n_items < config.max_batch_items {
                match queue.try_recv() {
                    Ok(job) => {
                        n_items += job.batch.n_items();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        if !config.write_delay.is_zero() {
            tokio::time::sleep(config.write_delay).await;
        }
        health.note(write_jobs(&writer, jobs, &metrics).await, false);
    }
    tracing::debug!("writer drained its queue and stopped");
}

/// One transaction for all jobs; if it fails, each job on its own, so that
/// one export the database refuses cannot fail the others. The jobs' batches
/// are moved into one, not copied, and split again only on failure.
/// Fails when no job could be written.
async fn write_jobs(
    writer: &Writer,
    jobs: Vec<Job>,
    metrics: &SelfMetrics,
) -> Result<(), StoreError> {
    let mut merged = PreparedBatch::default();
    let mut waiting = Vec::with_capacity(jobs.len());
    for job in jobs {
        waiting.push((job.done, job.permit));
        merged.append(job.batch);
    }
    let started = Instant::now();
    let result = writer.write_batch(&merged).await;
    metrics.record_commit(merged.n_items(), started.elapsed(), result.is_ok());
    match result {
        Ok(()) => {
            for (done, _permit) in waiting {
                let _ = done.send(Ok(()));
            }
            Ok(())
        }
        Err(err) if waiting.len() == 1 => {
            for (done, _permit) in waiting {
                let _ = done.send(Err(SubmitError::Store(err.to_string())));
            }
            Err(err)
        }
        Err(err) => {
            tracing::debug!(error = %err, jobs = waiting.len(), "group commit failed; writing exports one by one");
            // Each job's batch comes back out in the order it went in.
            let parts = std::iter::from_fn(|| merged.split_first());
            let (mut written, mut refused) = (0, 0);
            let mut last = err;
            for ((done, _permit), batch) in waiting.into_iter().zip(parts) {
                let started = Instant::now();
                let result = writer.write_batch(&batch).await;
                metrics.record_commit(batch.n_items(), started.elapsed(), result.is_ok());
                let answer = match result {
                    Ok(()) => {
                        written += 1;
                        Ok(())
                    }
                    Err(err) => {
                        refused += 1;
                        let answer = Err(SubmitError::Store(err.to_string()));
                        last = err;
                        answer
                    }
                };
                let _ = done.send(answer);
            }
            if written == 0 {
                return Err(last);
            }
            if refused > 0 {
                // The database works; these exports themselves were refused.
                tracing::warn!(error = %last, refused, written, "exports the database would not take");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Store;
    use store::model::{Derived, Resource, Scope, Span, SpanKind, Status, StatusCode};
    use store::value::Attributes;

    fn batch(n: u8) -> Batch {
        Batch {
            resources: vec![Resource {
                service: "api".into(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            scopes: vec![Scope {
                name: "s".into(),
                version: String::new(),
                attributes: Attributes::default(),
                dropped_attributes_count: 0,
                schema_url: String::new(),
            }],
            spans: (0..10)
                .map(|i| Span {
                    resource_idx: 0,
                    scope_idx: 0,
                    trace_id: [n; 16],
                    span_id: [i + 1; 8],
                    parent_span_id: None,
                    trace_state: String::new(),
                    flags: 0,
                    name: "op".into(),
                    kind: SpanKind::Server,
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    attributes: Attributes::default(),
                    dropped_attributes_count: 0,
                    events: vec![],
                    dropped_events_count: 0,
                    links: vec![],
                    dropped_links_count: 0,
                    status: Status {
                        code: StatusCode::Unset,
                        message: String::new(),
                    },
                    derived: Derived::default(),
                    wire_bytes: 0,
                })
                .collect(),
            ..Batch::default()
        }
    }

    #[test]
    fn a_probe_clears_a_failure_but_not_a_full_disk() {
        let health = Health::default();
        health.note(Err(StoreError::Scan("gone".into())), false);
        assert_eq!(health.failure().as_deref(), Some("database error: gone"));
        health.note(Ok(()), true);
        assert_eq!(health.failure(), None);
        // A probe writes nothing, so it cannot tell that room came back.
        health.note(Err(StoreError::DiskFull("no space".into())), false);
        health.note(Ok(()), true);
        assert!(health.failure().is_some_and(|f| f.contains("disk")));
        health.note(Ok(()), false);
        assert_eq!(health.failure(), None);
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        (store, dir)
    }

    #[tokio::test]
    async fn concurrent_exports_share_commits() {
        let (store, _dir) = store().await;
        let metrics = Arc::new(SelfMetrics::default());
        let config = PipelineConfig {
            write_delay: Duration::from_millis(20),
            ..PipelineConfig::default()
        };
        let (pipeline, writer) = Pipeline::start(store.writer(), config, metrics.clone());
        let submits: Vec<_> = (1..=40u8)
            .map(|n| {
                let pipeline = pipeline.clone();
                tokio::spawn(async move { pipeline.submit(batch(n)).await })
            })
            .collect();
        for submit in submits {
            submit.await.unwrap().unwrap();
        }
        drop(pipeline);
        writer.await.unwrap();
        assert_eq!(store.reader().stats().await.unwrap().spans, 400);
        let text = metrics.render(None);
        let commits: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("loupe_commits_total "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            commits < 40,
            "{commits} commits for 40 exports: group commit did not group"
        );
        assert_eq!(metrics.queue_depth(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let (store, _dir) = store().await;
        let metrics = Arc::new(SelfMetrics::default());
        let config = PipelineConfig {
            queue_items: 15,
            write_delay: Duration::from_millis(100),
            ..PipelineConfig::default()
        };
        let (pipeline, writer) = Pipeline::start(store.writer(), config, metrics.clone());
        let first = tokio::spawn({
            let pipeline = pipeline.clone();
            async move { pipeline.submit(batch(1)).await }
        });
        // Wait until the first batch holds its permits.
        while metrics.queue_depth() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pipeline.submit(batch(2)).await,
            Err(SubmitError::Overloaded { waiting: 10 })
        );
        first.await.unwrap().unwrap();
        // Once committed, the room is back.
        pipeline.submit(batch(3)).await.unwrap();
        drop(pipeline);
        writer.await.unwrap();
        assert_eq!(store.reader().stats().await.unwrap().spans, 20);
    }

    #[tokio::test]
    async fn no_room_refuses_until_room_is_back() {
        let (store, _dir) = store().await;
        let (pipeline, writer) = Pipeline::start(
            store.writer(),
            PipelineConfig::default(),
            Arc::new(SelfMetrics::default()),
        );
        pipeline.set_no_room(Some("at --max-size".into()));
        assert_eq!(
            pipeline.submit(batch(1)).await,
            Err(SubmitError::NoRoom("at --max-size".into()))
        );
        pipeline.set_no_room(None);
        pipeline.submit(batch(2)).await.unwrap();
        drop(pipeline);
        writer.await.unwrap();
        assert_eq!(store.reader().stats().await.unwrap().spans, 10);
    }
}
