//! The read queries, written once and expanded into both backends. The SQL
//! is the same for SQLite and PostgreSQL except full-text search, which each
//! backend supplies as `push_text_filter`.

macro_rules! impl_reads {
    ($db:ty, $pool:ident) => {
        pub async fn stats(&self) -> $crate::Result<$crate::read::Stats> {
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
            Ok($crate::read::Stats {
                spans: counter("spans"),
                logs: counter("logs"),
                metric_points: counter("metric_points"),
                traces,
                services,
            })
        }

        pub async fn trace(
            &self,
            trace_id: &$crate::model::TraceId,
        ) -> $crate::Result<Option<$crate::read::TraceView>> {
            let spans = sqlx::query_as::<_, $crate::rows::RawSpan>(sqlx::AssertSqlSafe(format!(
                "SELECT {} WHERE s.trace_id = $1 ORDER BY s.start_ns, s.span_id",
                $crate::rows::SPAN_COLUMNS
            )))
            .bind(trace_id.to_vec())
            .fetch_all(&self.$pool)
            .await?;
            let logs = sqlx::query_as::<_, $crate::rows::RawLog>(sqlx::AssertSqlSafe(format!(
                "SELECT {} WHERE l.trace_id = $1 ORDER BY l.ts_ns, l.id",
                $crate::rows::LOG_COLUMNS
            )))
            .bind(trace_id.to_vec())
            .fetch_all(&self.$pool)
            .await?;
            if spans.is_empty() && logs.is_empty() {
                return Ok(None);
            }
            Ok(Some($crate::read::TraceView {
                trace_id: hex::encode(trace_id),
                spans: spans
                    .into_iter()
                    .map($crate::rows::RawSpan::into_view)
                    .collect::<$crate::Result<_>>()?,
                logs: logs
                    .into_iter()
                    .map($crate::rows::RawLog::into_view)
                    .collect::<$crate::Result<_>>()?,
            }))
        }

        pub async fn logs(
            &self,
            query: &$crate::read::LogQuery,
        ) -> $crate::Result<Vec<$crate::read::LogView>> {
            let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                "SELECT {} WHERE 1 = 1",
                $crate::rows::LOG_COLUMNS
            ));
            if let Some(service) = &query.service {
                q.push(" AND l.service = ").push_bind(service.clone());
            }
            if let Some(trace_id) = &query.trace_id {
                q.push(" AND l.trace_id = ").push_bind(trace_id.to_vec());
            }
            if let Some(request_id) = &query.request_id {
                q.push(" AND l.request_id = ").push_bind(request_id.clone());
            }
            if let Some(severity) = query.severity_min {
                q.push(" AND l.severity_number >= ").push_bind(severity);
            }
            if let Some(start) = query.start {
                q.push(" AND l.ts_ns >= ").push_bind(start);
            }
            if let Some(end) = query.end {
                q.push(" AND l.ts_ns < ").push_bind(end);
            }
            if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
                push_text_filter(&mut q, text);
            }
            q.push(" ORDER BY l.ts_ns DESC, l.id DESC LIMIT ")
                .push_bind(i64::from(query.limit));
            q.build_query_as::<$crate::rows::RawLog>()
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::rows::RawLog::into_view)
                .collect()
        }

        pub async fn metrics(&self) -> $crate::Result<Vec<$crate::read::MetricInfo>> {
            sqlx::query_as::<_, $crate::rows::RawMetricInfo>($crate::rows::METRICS_SQL)
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::rows::RawMetricInfo::into_view)
                .collect()
        }

        pub async fn metric_points(
            &self,
            name: &str,
            limit: u32,
        ) -> $crate::Result<Vec<$crate::read::MetricPointView>> {
            sqlx::query_as::<_, $crate::rows::RawPoint>($crate::rows::POINTS_SQL)
                .bind(name.to_owned())
                .bind(i64::from(limit))
                .fetch_all(&self.$pool)
                .await?
                .into_iter()
                .map($crate::rows::RawPoint::into_view)
                .collect()
        }
    };
}

pub(crate) use impl_reads;
