//! The read queries, written once and expanded into both backends: the SQL
//! is the same for SQLite and PostgreSQL. What SQL cannot see (spans and
//! log records in their packs) is asked in Rust.

/// A trace's latency in SQL over `traces t`: its entry span's duration,
/// else (stored before entries were kept) its envelope (docs/adr/0023).
macro_rules! trace_duration {
    () => {
        "COALESCE(t.entry_ns, t.end_ns - t.start_ns)"
    };
}

pub(crate) const TRACE_DURATION: &str = trace_duration!();

macro_rules! impl_reads {
    ($db:ty, $pool:ident) => {
        pub(crate) async fn stats(&self) -> $crate::error::Result<$crate::views::Stats> {
            let mut counters = std::collections::HashMap::new();
            for row in sqlx::query("SELECT name, value FROM counters")
                .fetch_all(&self.$pool)
                .await?
            {
                counters.insert(
                    sqlx::Row::try_get::<String, _>(&row, 0)?,
                    sqlx::Row::try_get::<i64, _>(&row, 1)?,
                );
            }
            let traces: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM traces")
                .fetch_one(&self.$pool)
                .await?;
            let services: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT service) FROM resources")
                .fetch_one(&self.$pool)
                .await?;
            let counter = |name: &str| counters.get(name).copied().unwrap_or(0);
            Ok($crate::views::Stats {
                spans: counter("spans"),
                logs: counter("logs"),
                metric_points: counter("metric_points"),
                traces,
                services,
            })
        }

        /// The key interning fingerprints are made with (`fingerprint`),
        /// drawn by the migration that made the table.
        pub(crate) async fn fingerprint_key(&self) -> $crate::error::Result<[u8; 16]> {
            let key: Vec<u8> =
                sqlx::query_scalar("SELECT value FROM settings WHERE name = 'fingerprint_key'")
                    .fetch_one(&self.$pool)
                    .await?;
            key.try_into().map_err(|key: Vec<u8>| {
                $crate::error::StoreError::Corrupt(format!("a fingerprint key of {} bytes", key.len()))
            })
        }

        pub(crate) async fn trace(
            &self,
            trace_id: &$crate::model::TraceId,
        ) -> $crate::error::Result<Option<$crate::views::TraceView>> {
            let spans = self.spans_of_traces(&[trace_id.to_vec()]).await?;
            let of_trace =
                $crate::log_packs::LogMatch::any_of(vec![$crate::log_packs::LogId::Trace(*trace_id)])
                    .near(&spans);
            let logs = self.oldest_logs(&of_trace, $crate::log_packs::TRACE_LOGS).await?;
            if spans.is_empty() && logs.is_empty() {
                return Ok(None);
            }
            let expired_spans = self.expired_spans(&[trace_id.to_vec()], spans.len()).await?;
            Ok(Some($crate::views::TraceView {
                trace_id: hex::encode(trace_id),
                spans,
                logs: self.log_views(logs).await?,
                expired_spans,
            }))
        }

        /// How many of the spans the summaries of these traces count are
        /// no longer stored, `found` being those that are.
        async fn expired_spans(
            &self,
            trace_ids: &[Vec<u8>],
            found: usize,
        ) -> $crate::error::Result<u64> {
            if trace_ids.is_empty() {
                return Ok(0);
            }
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "SELECT CAST(COALESCE(SUM(span_count), 0) AS BIGINT) FROM traces WHERE ",
            );
            let ids: std::collections::HashSet<$crate::model::TraceId> = trace_ids
                .iter()
                .filter_map(|t| <$crate::model::TraceId>::try_from(t.as_slice()).ok())
                .collect();
            push_in_ids(&mut q, "trace_id", &ids);
            let counted: i64 = q.build_query_scalar().fetch_one(&self.$pool).await?;
            Ok((counted.max(0) as u64).saturating_sub(found as u64))
        }

        /// The ids of the packs holding spans of these traces, each once,
        /// in writing order.
        async fn pack_ids_of_traces(
            &self,
            traces: &std::collections::HashSet<$crate::model::TraceId>,
        ) -> $crate::error::Result<Vec<i64>> {
            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT packs FROM traces WHERE ");
            push_in_ids(&mut q, "trace_id", traces);
            let mut ids = std::collections::BTreeSet::new();
            for list in q.build_query_scalar::<Vec<u8>>().fetch_all(&self.$pool).await? {
                ids.extend($crate::trace_lists::pack_ids::of(&list));
            }
            Ok(ids.into_iter().collect())
        }

        /// The packs that may hold a span of the query's window meeting
        /// one of the conditions (by their terms; a pack without terms
        /// may), when there are `FEW_PACKS` or fewer; `None` past that.
        async fn few_packs_that_may_meet(
            &self,
            query: &$crate::views::TraceQuery,
            conditions: &$crate::pack_reads::SpanConditions,
        ) -> $crate::error::Result<Option<Vec<i64>>> {
            use futures_util::TryStreamExt as _;
            // The spans of a trace that started in the window started in
            // it or after: their packs' last starts are past its start.
            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT id, terms FROM span_packs");
            if let Some(start) = query.start {
                q.push(" WHERE start_hi >= ").push_bind(start);
            }
            let mut rows = q.build_query_as::<(i64, Option<Vec<u8>>)>().fetch(&self.$pool);
            let mut few = Vec::new();
            while let Some((id, terms)) = rows.try_next().await? {
                if terms.as_deref().is_none_or(|t| conditions.may_meet_any(t)) {
                    if few.len() == $crate::pack_reads::FEW_PACKS {
                        return Ok(None);
                    }
                    few.push(id);
                }
            }
            Ok(Some(few))
        }

        /// Those of these packs whose spans may meet one of the
        /// conditions (`pack_terms`), or that have no terms to tell.
        async fn packs_worth_reading(
            &self,
            ids: &[i64],
            conditions: &$crate::pack_reads::SpanConditions,
        ) -> $crate::error::Result<Vec<i64>> {
            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT id, terms FROM span_packs WHERE id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            let rows: Vec<(i64, Option<Vec<u8>>)> = q.build_query_as().fetch_all(&self.$pool).await?;
            Ok(rows
                .into_iter()
                .filter(|(_, terms)| terms.as_deref().is_none_or(|t| conditions.may_meet_any(t)))
                .map(|(id, _)| id)
                .collect())
        }

        /// Packs by id: (data, details), details only when asked for.
        /// Callers ask for a few at a time (`PACKS_AT_ONCE`), so that memory
        /// holds a few packs whatever the traces' number.
        async fn packs_by_id(
            &self,
            ids: &[i64],
            with_details: bool,
        ) -> $crate::error::Result<Vec<(Vec<u8>, Option<Vec<u8>>)>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT data, CASE WHEN ");
            q.push_bind(with_details)
                .push(" THEN details END FROM span_packs WHERE id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            Ok(q.build_query_as().fetch_all(&self.$pool).await?)
        }

        /// The stored resources and scopes of these fingerprints.
        async fn span_sources(
            &self,
            resources: std::collections::HashSet<i64>,
            scopes: std::collections::HashSet<i64>,
        ) -> $crate::error::Result<(
            std::collections::HashMap<i64, $crate::pack_reads::ResourceInfo>,
            std::collections::HashMap<i64, $crate::pack_reads::ScopeInfo>,
        )> {
            let mut found_resources = std::collections::HashMap::new();
            let resources: Vec<i64> = resources.into_iter().collect();
            for chunk in resources.chunks(500) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT fingerprint, attributes, schema_url FROM resources WHERE fingerprint IN (",
                );
                let mut fps = q.separated(", ");
                for fp in chunk {
                    fps.push_bind(*fp);
                }
                q.push(")");
                for (fp, attributes, schema_url) in
                    q.build_query_as::<(i64, String, String)>().fetch_all(&self.$pool).await?
                {
                    found_resources.insert(fp, (attributes, schema_url));
                }
            }
            let mut found_scopes = std::collections::HashMap::new();
            let scopes: Vec<i64> = scopes.into_iter().collect();
            for chunk in scopes.chunks(500) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT fingerprint, name, version, attributes FROM scopes WHERE fingerprint IN (",
                );
                let mut fps = q.separated(", ");
                for fp in chunk {
                    fps.push_bind(*fp);
                }
                q.push(")");
                for (fp, name, version, attributes) in q
                    .build_query_as::<(i64, String, String, String)>()
                    .fetch_all(&self.$pool)
                    .await?
                {
                    found_scopes.insert(fp, (name, version, attributes));
                }
            }
            Ok((found_resources, found_scopes))
        }

        /// Every span of the given traces with its details, unordered.
        async fn full_spans(
            &self,
            trace_ids: &[Vec<u8>],
        ) -> $crate::error::Result<Vec<($crate::report_rows::ReportSpan, $crate::details::SpanDetail)>> {
            let wanted: std::collections::HashSet<$crate::model::TraceId> = trace_ids
                .iter()
                .filter_map(|t| <$crate::model::TraceId>::try_from(t.as_slice()).ok())
                .collect();
            if wanted.is_empty() {
                return Ok(Vec::new());
            }
            let mut spans = Vec::new();
            for ids in self.pack_ids_of_traces(&wanted).await?.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                let packs = self.packs_by_id(ids, true).await?;
                spans.extend($crate::runtime::blocking(|| {
                    $crate::pack_reads::full_spans(&packs, |t| wanted.contains(t))
                })?);
            }
            Ok(spans)
        }

        /// The spans given, as the API serves them.
        async fn span_views(
            &self,
            spans: Vec<($crate::report_rows::ReportSpan, $crate::details::SpanDetail)>,
        ) -> $crate::error::Result<Vec<$crate::views::SpanView>> {
            let (resources, scopes) = self
                .span_sources(
                    spans.iter().map(|(_, d)| d.resource).collect(),
                    spans.iter().map(|(_, d)| d.scope).collect(),
                )
                .await?;
            spans
                .into_iter()
                .map(|(s, d)| $crate::pack_reads::view(s, d, &resources, &scopes))
                .collect()
        }

        pub(crate) async fn logs(
            &self,
            query: &$crate::views::LogQuery,
        ) -> $crate::error::Result<Vec<$crate::views::LogView>> {
            let m = $crate::log_packs::LogMatch::of_query(query);
            let logs = self.newest_logs(&m, query.limit as usize).await?;
            self.log_views(logs).await
        }

        /// The records of these packs, each pack's in writing order.
        async fn log_packs_by_id(
            &self,
            ids: &[i64],
        ) -> $crate::error::Result<Vec<(i64, Vec<$crate::log_packs::StoredLog>)>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT id, data FROM log_packs WHERE id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            let packs: Vec<(i64, Vec<u8>)> = q.build_query_as().fetch_all(&self.$pool).await?;
            $crate::runtime::blocking(|| {
                packs
                    .into_iter()
                    .map(|(id, data)| Ok((id, $crate::log_packs::unpack(&data)?)))
                    .collect()
            })
        }

        /// Hands `each` every record `m` keeps, a few packs at a time,
        /// with its pack's id and its place in the pack.
        async fn each_log(
            &self,
            m: &$crate::log_packs::LogMatch,
            mut each: impl FnMut(i64, usize, $crate::log_packs::StoredLog),
        ) -> $crate::error::Result<()> {
            let candidates: Vec<i64> = self.log_candidates(m).await?.into_iter().map(|(id, _)| id).collect();
            for chunk in candidates.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                for (id, logs) in self.log_packs_by_id(chunk).await? {
                    for (i, log) in logs.into_iter().enumerate() {
                        if m.keeps(&log) {
                            each(id, i, log);
                        }
                    }
                }
            }
            Ok(())
        }

        /// The newest `limit` records `m` keeps, newest first: packs are
        /// read newest first until none left can hold a newer record.
        async fn newest_logs(
            &self,
            m: &$crate::log_packs::LogMatch,
            limit: usize,
        ) -> $crate::error::Result<Vec<$crate::log_packs::StoredLog>> {
            let candidates = self.log_candidates(m).await?;
            let mut newest = $crate::log_packs::Newest::new(limit);
            // One pack first, then twice as many each time: a page of the
            // newest is mostly in the newest pack or two.
            let (mut at, mut step) = (0, 1);
            while let Some(&(_, ts_hi)) = candidates.get(at) {
                if newest.done(ts_hi) {
                    break;
                }
                let chunk = &candidates[at..(at + step).min(candidates.len())];
                let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
                for (id, logs) in self.log_packs_by_id(&ids).await? {
                    newest.add(id, logs.into_iter().enumerate().filter(|(_, l)| m.keeps(l)));
                }
                at += chunk.len();
                step = (step * 2).min($crate::pack_reads::PACKS_AT_ONCE);
            }
            Ok(newest.into_logs())
        }

        /// The oldest `limit` records `m` keeps, oldest first.
        async fn oldest_logs(
            &self,
            m: &$crate::log_packs::LogMatch,
            limit: usize,
        ) -> $crate::error::Result<Vec<$crate::log_packs::StoredLog>> {
            let mut found = Vec::new();
            self.each_log(m, |id, i, log| found.push(((log.ts(), id, i), log))).await?;
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found.truncate(limit);
            Ok(found.into_iter().map(|(_, log)| log).collect())
        }

        /// The records as the API serves them.
        async fn log_views(
            &self,
            logs: Vec<$crate::log_packs::StoredLog>,
        ) -> $crate::error::Result<Vec<$crate::views::LogView>> {
            let (resources, scopes) = self
                .span_sources(
                    logs.iter().map(|l| l.resource).collect(),
                    logs.iter().map(|l| l.scope).collect(),
                )
                .await?;
            logs.into_iter()
                .map(|log| $crate::log_packs::view(log, &resources, &scopes))
                .collect()
        }

        /// Each bound is an index's first entry (per metric stream for
        /// points).
        pub(crate) async fn oldest(&self) -> $crate::error::Result<$crate::views::Oldest> {
            let (spans, logs, metric_points): (Option<i64>, Option<i64>, Option<i64>) =
                sqlx::query_as(
                    "SELECT (SELECT min(start_hi) FROM span_packs), (SELECT min(ts_lo) FROM log_packs), \
                     (SELECT min((SELECT min(time_ns) FROM metric_points p WHERE p.metric_id = m.id)) \
                      FROM metrics m)",
                )
                .fetch_one(&self.$pool)
                .await?;
            Ok($crate::views::Oldest {
                spans,
                logs,
                metric_points,
            })
        }

        /// The first and last time stamped on data of any signal in
        /// `[start, end)`, from packs' bounds (a pack counts when it meets
        /// the window; the caller clamps) and each metric stream's index.
        pub(crate) async fn data_extent(
            &self,
            start: i64,
            end: i64,
        ) -> $crate::error::Result<Option<(i64, i64)>> {
            let (lo, hi): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT min(lo), max(hi) FROM ( \
                 SELECT min(start_lo) AS lo, max(start_hi) AS hi FROM span_packs \
                 WHERE start_hi >= $1 AND start_lo < $2 \
                 UNION ALL SELECT min(ts_lo), max(ts_hi) FROM log_packs \
                 WHERE ts_hi >= $1 AND ts_lo < $2 \
                 UNION ALL SELECT \
                 min((SELECT min(time_ns) FROM metric_points p \
                      WHERE p.metric_id = m.id AND p.time_ns >= $1 AND p.time_ns < $2)), \
                 max((SELECT max(time_ns) FROM metric_points p \
                      WHERE p.metric_id = m.id AND p.time_ns >= $1 AND p.time_ns < $2)) \
                 FROM metrics m) extent",
            )
            .bind(start)
            .bind(end)
            .fetch_one(&self.$pool)
            .await?;
            Ok(lo.zip(hi))
        }

        pub(crate) async fn service_names(&self) -> $crate::error::Result<Vec<String>> {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT service FROM resources ORDER BY service",
            )
            .fetch_all(&self.$pool)
            .await?)
        }

        /// Every (service, span name, kind) the operations table holds
        /// for `service` (every service's when `None`), by service, name
        /// and kind.
        pub(crate) async fn operations(
            &self,
            service: Option<&str>,
        ) -> $crate::error::Result<Vec<(String, String, i32)>> {
            Ok(sqlx::query_as::<_, (String, String, i32)>(
                "SELECT DISTINCT service, name, kind FROM operations \
                 WHERE $1 IS NULL OR service = $1 ORDER BY service, name, kind",
            )
            .bind(service)
            .fetch_all(&self.$pool)
            .await?)
        }

        pub(crate) async fn traces(
            &self,
            query: &$crate::views::TraceQuery,
        ) -> $crate::error::Result<Vec<$crate::views::TraceSummary>> {
            let Some(mut conditions) = $crate::pack_reads::SpanConditions::of(query)? else {
                return self.trace_rows(query, None, query.offset, query.limit).await;
            };
            let with_details = conditions.needs_details();
            // A rare condition: when the terms of few packs say they may
            // hold a span meeting one, those packs alone are read, and the
            // traces that met every condition in them are all there are
            // (every span meeting one is in such a pack).
            if let Some(candidates) = self.few_packs_that_may_meet(query, &conditions).await? {
                let mut unpacker = $crate::packed::Unpacker::default();
                for ids in candidates.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                    for (data, details) in self.packs_by_id(ids, with_details).await? {
                        $crate::runtime::blocking(|| conditions.scan(&mut unpacker, &data, details.as_deref()))?;
                    }
                }
                let matched = conditions.met_by_all();
                if matched.is_empty() {
                    return Ok(Vec::new());
                }
                return self.trace_rows(query, Some(&matched), query.offset, query.limit).await;
            }
            // The span conditions are asked of the traces that meet the
            // others, in the query's order, a page at a time through their
            // own packs, until the page asked for is complete: a common
            // condition is answered from the newest traces' few packs, a
            // rare one reads the window a page of traces after another
            // (pages growing fourfold), memory holding one page's packs.
            let wanted = usize::try_from(u64::from(query.offset) + u64::from(query.limit))
                .unwrap_or(usize::MAX);
            let mut matched: Vec<$crate::model::TraceId> = Vec::new();
            // Where the last page ended (its last trace's sort key and id):
            // the next starts after it, so that a walk through a million
            // traces reads each summary once (an OFFSET reads past every
            // row it skips, again at every page).
            let mut after: Option<(i64, Vec<u8>)> = None;
            let mut page = $crate::pack_reads::PROBE_TRACES;
            // Each pack is read once: what its spans met stays with their
            // traces until those traces' turn (a trace is a candidate once).
            let mut read: std::collections::HashSet<i64> = std::collections::HashSet::new();
            let mut unpacker = $crate::packed::Unpacker::default();
            while matched.len() < wanted {
                let page_rows = self.trace_packs(query, after.as_ref(), page).await?;
                let pack_ids: std::collections::BTreeSet<i64> = page_rows
                    .iter()
                    .flat_map(|(_, packs, _)| packs.iter().copied())
                    .filter(|id| !read.contains(id))
                    .collect();
                let pack_ids: Vec<i64> = pack_ids.into_iter().collect();
                if let Some((trace, _, key)) = page_rows.last() {
                    after = Some((*key, trace.to_vec()));
                }
                let candidates: Vec<$crate::model::TraceId> =
                    page_rows.into_iter().map(|(t, _, _)| t).collect();
                for pack_ids in pack_ids.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                    // A pack whose terms rule out every condition is not
                    // read: a search nothing matches reads terms alone.
                    let worth = self.packs_worth_reading(pack_ids, &conditions).await?;
                    for (data, details) in self.packs_by_id(&worth, with_details).await? {
                        $crate::runtime::blocking(|| conditions.scan(&mut unpacker, &data, details.as_deref()))?;
                    }
                    read.extend(pack_ids);
                }
                matched.extend(candidates.iter().filter(|t| conditions.met_all(t)));
                conditions.forget(&candidates);
                if (candidates.len() as u32) < page {
                    break;
                }
                page = page.saturating_mul(4).min($crate::pack_reads::MAX_PROBE_TRACES);
            }
            let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
            let shown: std::collections::HashSet<$crate::model::TraceId> =
                matched.into_iter().skip(offset).take(query.limit as usize).collect();
            if shown.is_empty() {
                return Ok(Vec::new());
            }
            self.trace_rows(query, Some(&shown), 0, query.limit).await
        }

        /// The summaries of the traces that meet the query's conditions on
        /// the summary rows (not those on spans: `traces` asks those), among
        /// `among` when given, in the query's order, `limit` from `offset`.
        async fn trace_rows(
            &self,
            query: &$crate::views::TraceQuery,
            among: Option<&std::collections::HashSet<$crate::model::TraceId>>,
            offset: u32,
            limit: u32,
        ) -> $crate::error::Result<Vec<$crate::views::TraceSummary>> {
            let rows = Self::trace_page(
                query,
                among,
                None,
                offset,
                limit,
                "t.trace_id, t.root_service, t.root_name, t.start_ns, t.end_ns, \
                 t.span_count, t.error_count, t.services, t.entry_ns, t.entry_status, \
                 t.request_id, t.error_message",
            )
            .build_query_as::<$crate::read_rows::RawTraceSummary>()
            .fetch_all(&self.$pool)
            .await?;
            Ok(rows
                .into_iter()
                .map($crate::read_rows::RawTraceSummary::into_summary)
                .collect())
        }

        /// As `trace_rows`, each trace's id, the ids of its packs and its
        /// sort key (start, or duration longest first), `limit` of them
        /// after the trace `after` (a key and an id) when given.
        async fn trace_packs(
            &self,
            query: &$crate::views::TraceQuery,
            after: Option<&(i64, Vec<u8>)>,
            limit: u32,
        ) -> $crate::error::Result<Vec<($crate::model::TraceId, Vec<i64>, i64)>> {
            let columns = if query.longest_first {
                concat!("t.trace_id, t.packs, ", $crate::queries::trace_duration!())
            } else {
                "t.trace_id, t.packs, t.start_ns"
            };
            let rows = Self::trace_page(query, None, after, 0, limit, columns)
                .build_query_as::<(Vec<u8>, Vec<u8>, i64)>()
                .fetch_all(&self.$pool)
                .await?;
            rows.into_iter()
                .map(|(trace_id, packs, key): (Vec<u8>, Vec<u8>, i64)| {
                    Ok((
                        $crate::read_rows::fixed_id(&trace_id, "trace")?,
                        $crate::trace_lists::pack_ids::of(&packs).collect(),
                        key,
                    ))
                })
                .collect()
        }

        /// How many traces meet the query's conditions, counted up to
        /// `bound` (past it, `bound + 1`); `None` when it has conditions on
        /// spans, which only reading the packs could count.
        pub(crate) async fn count_traces(
            &self,
            query: &$crate::views::TraceQuery,
            bound: u32,
        ) -> $crate::error::Result<Option<u64>> {
            if $crate::pack_reads::SpanConditions::of(query)?.is_some() {
                return Ok(None);
            }
            let mut q = sqlx::QueryBuilder::<$db>::new(
                "SELECT COUNT(*) FROM (SELECT 1 FROM traces t WHERE 1 = 1",
            );
            Self::push_trace_filters(&mut q, query);
            q.push(" LIMIT ").push_bind(i64::from(bound) + 1).push(") counted");
            let n: i64 = q.build_query_scalar().fetch_one(&self.$pool).await?;
            Ok(Some(n.max(0) as u64))
        }

        /// The conditions of `query` on summary rows (`traces t`), each
        /// answered from the search's covering index.
        fn push_trace_filters(q: &mut sqlx::QueryBuilder<$db>, query: &$crate::views::TraceQuery) {
            for service in [&query.service, &query.also_service].into_iter().flatten() {
                q.push(" AND ");
                push_contains(q, "t.services", $crate::trace_lists::service_list::token(service));
            }
            match query.failed {
                Some(true) => {
                    q.push(" AND t.error_count > 0");
                }
                Some(false) => {
                    q.push(" AND t.error_count = 0");
                }
                None => {}
            }
            const DURATION: &str = $crate::queries::TRACE_DURATION;
            if let Some(min) = query.min_duration_ns {
                q.push(format!(" AND {DURATION} >= ")).push_bind(min);
            }
            if let Some(max) = query.max_duration_ns {
                q.push(format!(" AND {DURATION} <= ")).push_bind(max);
            }
            if let Some(min) = query.min_trace_duration_ns {
                q.push(" AND t.end_ns - t.start_ns >= ").push_bind(min);
            }
            if let Some(max) = query.max_trace_duration_ns {
                q.push(" AND t.end_ns - t.start_ns <= ").push_bind(max);
            }
            if let Some(start) = query.start {
                q.push(" AND t.start_ns >= ").push_bind(start);
            }
            if let Some(end) = query.end {
                q.push(" AND t.start_ns < ").push_bind(end);
            }
        }

        /// The query of `trace_rows`, selecting `columns` of `traces t`.
        fn trace_page(
            query: &$crate::views::TraceQuery,
            among: Option<&std::collections::HashSet<$crate::model::TraceId>>,
            after: Option<&(i64, Vec<u8>)>,
            offset: u32,
            limit: u32,
            columns: &'static str,
        ) -> sqlx::QueryBuilder<$db> {
            // The page's ids first, ordered and cut from `traces_window`
            // alone (start, end, error count and the key); the other
            // columns only for the rows kept.
            let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                "SELECT {columns} FROM (SELECT t.trace_id FROM traces t WHERE 1 = 1"
            ));
            Self::push_trace_filters(&mut q, query);
            if let Some(among) = among {
                q.push(" AND ");
                push_in_ids(&mut q, "t.trace_id", among);
            }
            const DURATION: &str = $crate::queries::TRACE_DURATION;
            let key = if query.longest_first {
                DURATION
            } else {
                "t.start_ns"
            };
            if let Some((after_key, after_id)) = after {
                // Past (key, id) in the order below; the first comparison
                // alone bounds the index range.
                q.push(format!(" AND {key} <= "))
                    .push_bind(*after_key)
                    .push(format!(" AND ({key} < "))
                    .push_bind(*after_key)
                    .push(" OR t.trace_id > ")
                    .push_bind(after_id.clone())
                    .push(")");
            }
            let order = if query.longest_first {
                concat!(" ORDER BY ", $crate::queries::trace_duration!(), " DESC, t.trace_id")
            } else {
                " ORDER BY t.start_ns DESC, t.trace_id"
            };
            q.push(order)
                .push(" LIMIT ")
                .push_bind(i64::from(limit))
                .push(" OFFSET ")
                .push_bind(i64::from(offset))
                .push(") page JOIN traces t ON t.trace_id = page.trace_id")
                .push(order);
            q
        }

        pub(crate) async fn request(
            &self,
            id: &str,
        ) -> $crate::error::Result<Option<$crate::views::RequestView>> {
            use $crate::log_packs::{LogId, LogMatch};
            use $crate::views::Match;
            let id = id.trim();
            let mut matched_as = Vec::new();
            let mut trace_ids: Vec<Vec<u8>> = Vec::new();
            fn add(
                found: Vec<Vec<u8>>,
                how: Match,
                matched_as: &mut Vec<Match>,
                trace_ids: &mut Vec<Vec<u8>>,
            ) {
                if !found.is_empty() && !matched_as.contains(&how) {
                    matched_as.push(how);
                }
                for trace_id in found {
                    if !trace_ids.contains(&trace_id) {
                        trace_ids.push(trace_id);
                    }
                }
            }
            let hex_trace = $crate::read_rows::hex_id::<16>(id);
            if let Some(trace_id) = hex_trace {
                let found: Vec<Vec<u8>> =
                    sqlx::query_scalar("SELECT trace_id FROM traces WHERE trace_id = $1")
                        .bind(trace_id.to_vec())
                        .fetch_all(&self.$pool)
                        .await?;
                add(found, Match::TraceId, &mut matched_as, &mut trace_ids);
            }
            if let Some(span_id) = $crate::read_rows::hex_id::<8>(id) {
                let found = self.span_id_traces(&span_id).await?;
                add(found, Match::SpanId, &mut matched_as, &mut trace_ids);
            }
            let found: Vec<Vec<u8>> = sqlx::query_scalar(
                // Rows of traces retention removed wait for the sweep's walk
                // (`retention`): only traces still there count.
                "SELECT r.trace_id FROM request_traces r WHERE r.request_id = $1 \
                 AND EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = r.trace_id) LIMIT 1000",
            )
            .bind(id.to_owned())
            .fetch_all(&self.$pool)
            .await?;
            add(found, Match::RequestId, &mut matched_as, &mut trace_ids);

            let mut spans = self.spans_of_traces(&trace_ids).await?;

            // The log records of those traces, and those carrying the id
            // (as a request id, or as the trace id of a trace of records
            // alone), near the spans when there are any.
            let mut ids = vec![LogId::Request(id.to_owned())];
            ids.extend(hex_trace.map(LogId::Trace));
            ids.extend(
                trace_ids
                    .iter()
                    .take(500)
                    .filter_map(|t| <$crate::model::TraceId>::try_from(t.as_slice()).ok())
                    .map(LogId::Trace),
            );
            let near = LogMatch::any_of(ids).near(&spans);
            let stored = self.oldest_logs(&near, $crate::log_packs::REQUEST_LOGS).await?;
            // Traces only the records name join the request, their spans too.
            let known = trace_ids.len();
            for log in &stored {
                let Some(trace_id) = log.trace_id else {
                    continue;
                };
                let how = if hex_trace == Some(trace_id) {
                    Match::TraceId
                } else if log.request_id.as_deref() == Some(id) {
                    Match::RequestId
                } else {
                    continue;
                };
                if trace_ids.len() < 1000 {
                    add(vec![trace_id.to_vec()], how, &mut matched_as, &mut trace_ids);
                }
            }
            if trace_ids.len() > known {
                spans.extend(self.spans_of_traces(&trace_ids[known..]).await?);
                $crate::pack_reads::sort(&mut spans);
            }
            let trace_hex: Vec<String> = trace_ids.iter().map(hex::encode).collect();
            let mut logs = Vec::new();
            for log in self.log_views(stored).await? {
                let matched_by = match &log.trace_id {
                    Some(trace_id) if trace_hex.contains(trace_id) => Match::TraceId,
                    _ => Match::RequestId,
                };
                logs.push($crate::views::RequestLog { log, matched_by });
            }
            if logs.iter().any(|l| l.matched_by == Match::RequestId) && !matched_as.contains(&Match::RequestId) {
                matched_as.push(Match::RequestId);
            }
            if matched_as.is_empty() {
                // Nothing has the id: it may be the start of one trace's.
                return match self.trace_starting_with(id).await? {
                    Some(full) => Box::pin(self.request(&full)).await,
                    None => Ok(None),
                };
            }
            let expired_spans = self.expired_spans(&trace_ids, spans.len()).await?;
            Ok(Some($crate::views::RequestView {
                id: id.to_owned(),
                matched_as,
                trace_ids: trace_hex,
                spans,
                logs,
                expired_spans,
            }))
        }

        /// The one trace whose id starts with `prefix` (8 to 31 hex digits,
        /// either case), as 32 lowercase hex digits; none when no trace or
        /// several do.
        async fn trace_starting_with(&self, prefix: &str) -> $crate::error::Result<Option<String>> {
            if !(8..32).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None);
            }
            let padded = |digit: char| {
                let mut text = prefix.to_ascii_lowercase();
                text.extend(std::iter::repeat_n(digit, 32 - prefix.len()));
                hex::decode(text).unwrap_or_default()
            };
            let found: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT trace_id FROM traces WHERE trace_id >= $1 AND trace_id <= $2 LIMIT 2",
            )
            .bind(padded('0'))
            .bind(padded('f'))
            .fetch_all(&self.$pool)
            .await?;
            Ok(match &found[..] {
                [one] => Some(hex::encode(one)),
                _ => None,
            })
        }

        /// The `SpanNode` of every span of the given traces.
        pub(crate) async fn span_nodes(
            &self,
            trace_ids: &[Vec<u8>],
        ) -> $crate::error::Result<Vec<$crate::views::SpanNode>> {
            let wanted: std::collections::HashSet<$crate::model::TraceId> = trace_ids
                .iter()
                .filter_map(|t| <$crate::model::TraceId>::try_from(t.as_slice()).ok())
                .collect();
            let mut nodes = Vec::new();
            for ids in self.pack_ids_of_traces(&wanted).await?.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                let packs: Vec<Vec<u8>> = self
                    .packs_by_id(ids, false)
                    .await?
                    .into_iter()
                    .map(|(data, _)| data)
                    .collect();
                nodes.extend($crate::runtime::blocking(|| {
                    $crate::pack_reads::nodes(&packs, |t| wanted.contains(t))
                })?);
            }
            Ok(nodes)
        }

        /// The spans of the given (trace id, span id) pairs.
        pub(crate) async fn spans_by_id(
            &self,
            ids: &[(Vec<u8>, Vec<u8>)],
        ) -> $crate::error::Result<Vec<$crate::views::SpanView>> {
            let wanted: std::collections::HashSet<(&[u8], &[u8])> =
                ids.iter().map(|(t, s)| (t.as_slice(), s.as_slice())).collect();
            let mut traces: Vec<Vec<u8>> = ids.iter().map(|(t, _)| t.clone()).collect();
            traces.sort();
            traces.dedup();
            let spans = self
                .full_spans(&traces)
                .await?
                .into_iter()
                // Span ids are unique only within their trace.
                .filter(|(s, _)| wanted.contains(&(&s.trace_id[..], &s.span_id[..])))
                .collect();
            self.span_views(spans).await
        }

        /// Every span of the given traces, ordered by start time.
        pub(crate) async fn spans_of_traces(
            &self,
            trace_ids: &[Vec<u8>],
        ) -> $crate::error::Result<Vec<$crate::views::SpanView>> {
            let spans = self.full_spans(trace_ids).await?;
            let mut views = self.span_views(spans).await?;
            $crate::pack_reads::sort(&mut views);
            Ok(views)
        }

        /// The traces holding a span id (at most 1 000): the packs whose
        /// span filter may hold the id (`packs_that_may_hold`) are unpacked.
        async fn span_id_traces(
            &self,
            span_id: &$crate::model::SpanId,
        ) -> $crate::error::Result<Vec<Vec<u8>>> {
            let candidates = self.packs_that_may_hold(span_id).await?;
            let mut traces = Vec::new();
            for chunk in candidates.chunks($crate::pack_reads::PACKS_AT_ONCE) {
                let packs: Vec<Vec<u8>> = self
                    .packs_by_id(chunk, false)
                    .await?
                    .into_iter()
                    .map(|(data, _)| data)
                    .collect();
                $crate::runtime::blocking(|| {
                    $crate::pack_reads::traces_with_span(&packs, span_id, &mut traces, 1000)
                })?;
                if traces.len() >= 1000 {
                    break;
                }
            }
            Ok(traces)
        }

        pub(crate) async fn metrics(&self) -> $crate::error::Result<Vec<$crate::views::MetricInfo>> {
            sqlx::query_as::<_, $crate::read_rows::RawMetricInfo>($crate::read_rows::METRICS_SQL)
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::read_rows::RawMetricInfo::into_view)
                .collect()
        }

        pub(crate) async fn metric_points(
            &self,
            name: &str,
            limit: u32,
        ) -> $crate::error::Result<Vec<$crate::views::MetricPointView>> {
            sqlx::query_as::<_, $crate::read_rows::RawPoint>($crate::read_rows::POINTS_SQL)
                .bind(name.to_owned())
                .bind(i64::from(limit))
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::read_rows::RawPoint::into_view)
                .collect()
        }

        pub(crate) async fn metric_points_between(
            &self,
            name: &str,
            start: i64,
            end: i64,
            limit: u32,
        ) -> $crate::error::Result<Vec<$crate::views::MetricPointView>> {
            sqlx::query_as::<_, $crate::read_rows::RawPoint>($crate::read_rows::POINTS_BETWEEN_SQL)
                .bind(name.to_owned())
                .bind(start)
                .bind(end)
                .bind(i64::from(limit))
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::read_rows::RawPoint::into_view)
                .collect()
        }

        pub(crate) async fn span_logs(
            &self,
            start: i64,
            end: i64,
        ) -> $crate::error::Result<Vec<$crate::report_rows::SpanLogs>> {
            let window = $crate::log_packs::LogMatch {
                start: Some(start),
                end: Some(end),
                ..Default::default()
            };
            let mut of_span: std::collections::HashMap<
                ($crate::model::TraceId, Option<$crate::model::SpanId>),
                (u64, u64),
            > = std::collections::HashMap::new();
            self.each_log(&window, |_, _, log| {
                if let Some(trace_id) = log.trace_id {
                    let counts = of_span.entry((trace_id, log.span_id)).or_default();
                    counts.0 += 1;
                    counts.1 += u64::from(log.wire_bytes);
                }
            })
            .await?;
            Ok(of_span
                .into_iter()
                .map(|((trace_id, span_id), (records, wire_bytes))| $crate::report_rows::SpanLogs {
                    trace_id,
                    span_id,
                    records,
                    wire_bytes,
                })
                .collect())
        }

        pub(crate) async fn log_sources(
            &self,
            start: i64,
            end: i64,
        ) -> $crate::error::Result<Vec<$crate::report_rows::LogSource>> {
            let window = $crate::log_packs::LogMatch {
                start: Some(start),
                end: Some(end),
                ..Default::default()
            };
            // By scope fingerprint first, then by its name.
            let mut counted: std::collections::HashMap<(String, i32, String, i64), (u64, u64)> =
                std::collections::HashMap::new();
            self.each_log(&window, |_, _, log| {
                let counts = counted
                    .entry((log.service, log.severity_number, log.severity_text, log.scope))
                    .or_default();
                counts.0 += 1;
                counts.1 += u64::from(log.wire_bytes);
            })
            .await?;
            let (_, scopes) = self
                .span_sources(Default::default(), counted.keys().map(|k| k.3).collect())
                .await?;
            let mut sources: std::collections::BTreeMap<(String, i32, String, String), (u64, u64)> =
                std::collections::BTreeMap::new();
            for ((service, severity_number, severity_text, scope), (records, bytes)) in counted {
                let scope = scopes.get(&scope).map(|s| s.0.clone()).unwrap_or_default();
                let counts = sources
                    .entry((service, severity_number, severity_text, scope))
                    .or_default();
                counts.0 += records;
                counts.1 += bytes;
            }
            Ok(sources
                .into_iter()
                .map(|((service, severity_number, severity_text, scope), (records, wire_bytes))| {
                    $crate::report_rows::LogSource {
                        service,
                        severity_number,
                        severity_text,
                        scope,
                        records,
                        wire_bytes,
                    }
                })
                .collect())
        }

        /// How many spans the packs a report of `[start, end)` reads hold
        /// (`report_spans`): what its progress is a part of.
        pub(crate) async fn spans_between(&self, start: i64, end: i64) -> $crate::error::Result<u64> {
            let spans: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(SUM(spans) AS BIGINT) FROM span_packs WHERE start_hi >= $1 AND start_lo < $2",
            )
            .bind(start)
            .bind(end)
            .fetch_one(&self.$pool)
            .await?;
            Ok(spans.unwrap_or(0).max(0) as u64)
        }

        /// What each ingest key sent in the minutes that `[start, end)`
        /// touches, most bytes first.
        pub(crate) async fn key_usage(
            &self,
            start: i64,
            end: i64,
        ) -> $crate::error::Result<Vec<$crate::report_rows::KeyUsage>> {
            let first = $crate::rollup::minute_of(start);
            let last = $crate::rollup::minute_of(end.saturating_sub(1));
            let rows = sqlx::query_as::<_, (String, i64, i64, i64, i64, i64, i64)>(
                "SELECT key, CAST(SUM(spans) AS BIGINT), CAST(SUM(logs) AS BIGINT), \
                 CAST(SUM(metric_points) AS BIGINT), CAST(SUM(spans_wire_bytes) AS BIGINT), \
                 CAST(SUM(logs_wire_bytes) AS BIGINT), CAST(SUM(metric_points_wire_bytes) AS BIGINT) \
                 FROM key_usage WHERE minute >= $1 AND minute <= $2 GROUP BY key",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&self.$pool)
            .await?;
            let n = |v: i64| v.max(0) as u64;
            let mut usage: Vec<_> = rows
                .into_iter()
                .map(|(key, spans, logs, points, span_bytes, log_bytes, point_bytes)| {
                    $crate::report_rows::KeyUsage {
                        key,
                        spans: n(spans),
                        logs: n(logs),
                        metric_points: n(points),
                        wire: $crate::report_rows::SignalBytes {
                            spans: n(span_bytes),
                            logs: n(log_bytes),
                            metric_points: n(point_bytes),
                        },
                    }
                })
                .collect();
            let bytes = |u: &$crate::report_rows::KeyUsage| u.wire.spans + u.wire.logs + u.wire.metric_points;
            usage.sort_by(|a, b| bytes(b).cmp(&bytes(a)).then_with(|| a.key.cmp(&b.key)));
            Ok(usage)
        }

        pub(crate) async fn metric_usage(
            &self,
            start: i64,
            end: i64,
        ) -> $crate::error::Result<Vec<$crate::report_rows::MetricUsage>> {
            Ok(sqlx::query_as::<_, (String, String, String, i64, i64, i64)>(
                "SELECT r.service, m.name, m.kind, COUNT(*), CAST(SUM(p.wire_bytes) AS BIGINT), \
                 COUNT(DISTINCT p.attributes) \
                 FROM metric_points p JOIN metrics m ON m.id = p.metric_id \
                 JOIN resources r ON r.id = m.resource_id \
                 WHERE p.time_ns >= $1 AND p.time_ns < $2 \
                 GROUP BY p.metric_id, r.service, m.name, m.kind",
            )
            .bind(start)
            .bind(end)
            .fetch_all(&self.$pool)
            .await?
            .into_iter()
            .map(|(service, name, kind, points, bytes, series)| $crate::report_rows::MetricUsage {
                service,
                name,
                kind,
                points: points.max(0) as u64,
                wire_bytes: bytes.max(0) as u64,
                series: series.max(0) as u64,
            })
            .collect())
        }

        pub(crate) async fn attribute_sample(
            &self,
            start: i64,
            end: i64,
            traces: u32,
            logs: u32,
        ) -> $crate::error::Result<Vec<$crate::report_rows::AttributeSample>> {
            let newest: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT trace_id FROM traces WHERE start_ns >= $1 AND start_ns < $2 \
                 ORDER BY start_ns DESC LIMIT $3",
            )
            .bind(start)
            .bind(end)
            .bind(i64::from(traces))
            .fetch_all(&self.$pool)
            .await?;
            let spans = self
                .full_spans(&newest)
                .await?
                .into_iter()
                .filter(|(s, _)| s.start_ns >= start && s.start_ns < end)
                .map(|(s, d)| $crate::report_rows::AttributeSample {
                    signal: "span",
                    service: s.service.to_string(),
                    trace_id: Some(s.trace_id),
                    name: s.name.to_string(),
                    attributes: d.attributes,
                });
            let window = $crate::log_packs::LogMatch {
                start: Some(start),
                end: Some(end),
                ..Default::default()
            };
            let log_rows = self
                .newest_logs(&window, logs as usize)
                .await?
                .into_iter()
                .map(|log| $crate::report_rows::AttributeSample {
                    signal: "log",
                    service: log.service,
                    trace_id: None,
                    name: String::new(),
                    attributes: log.attributes,
                });
            Ok(spans.chain(log_rows).collect())
        }

        pub(crate) async fn wire_bytes_total(&self) -> $crate::error::Result<$crate::report_rows::SignalBytes> {
            let mut total = $crate::report_rows::SignalBytes::default();
            for (name, value) in sqlx::query_as::<_, (String, i64)>(
                "SELECT name, value FROM counters WHERE name LIKE '%_wire_bytes'",
            )
            .fetch_all(&self.$pool)
            .await?
            {
                let value = value.max(0) as u64;
                match name.as_str() {
                    "spans_wire_bytes" => total.spans = value,
                    "logs_wire_bytes" => total.logs = value,
                    "metric_points_wire_bytes" => total.metric_points = value,
                    _ => {}
                }
            }
            Ok(total)
        }
    };
}

pub(crate) use impl_reads;
pub(crate) use trace_duration;
