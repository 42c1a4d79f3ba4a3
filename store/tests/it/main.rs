//! Store conformance: one suite of cases, each run against a fresh SQLite
//! file and a fresh PostgreSQL database, so that both backends keep one
//! contract.
//!
//! PostgreSQL comes from `LOUPE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); every test creates and
//! drops its own database there. When it cannot be reached the PostgreSQL
//! tests say so loudly on stderr and pass, unless `LOUPE_REQUIRE_POSTGRES=1`,
//! when they fail.

mod conformance;
mod fixtures;
mod harness;
mod upgrade;

/// Expands every case into `sqlite::case` and `postgres::case` tests.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run(crate::harness::Backend::Sqlite, crate::conformance::$case)
                        .await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::run(crate::harness::Backend::Postgres, crate::conformance::$case)
                        .await;
                }
            )+
        }
    };
}

conformance!(
    empty_store_answers,
    round_trip_spans,
    round_trip_logs,
    trace_summary_out_of_order,
    stats_count_everything,
    log_search_filters,
    log_text_search,
    logs_newest_first_across_packs,
    trace_records_are_read_near_their_spans,
    metrics_round_trip,
    metric_non_finite_values,
    interning_writes_once,
    interning_cannot_be_collided_on_purpose,
    two_stores_write_concurrently,
    failed_batch_writes_nothing,
    nul_in_text,
    concurrent_writers_on_one_store,
    concurrent_writers_list_one_trace_services,
    reopen_keeps_data,
    trace_search,
    trace_latency_is_the_entry_spans,
    trace_rows_say_how_it_went,
    ids_resolve_in_any_case_and_by_a_unique_prefix,
    traces_are_counted_up_to_a_bound,
    request_resolution,
    span_ids_resolve_among_many_commits,
    span_conditions_reach_past_the_newest_traces,
    packs_ruled_out_by_their_terms_are_skipped_not_missed,
    spans_at_the_ends_of_time_read_back,
    service_red,
    span_nodes_and_spans_by_id,
    report_spans_stream_the_window,
    retention_removes_what_is_older,
    fit_removes_the_oldest_first,
    rollups_answer_as_the_spans_do,
    report_rollups_follow_their_stale_marks,
    hourly_rollups_answer_for_whole_hours,
    releases_come_from_rollups_by_version,
    operations_list_every_span_name_by_kind,
    key_usage_follows_the_rollups,
);
