//! Reading rollups (`rollup`), written once and expanded into both
//! backends: the first minute they cover, settled once at open, and the
//! rows of a range of minutes.

/// What `settings.rollups_from` holds until the store settles it.
pub(crate) const UNSETTLED: &[u8] = b"unsettled";

/// What it holds when rollups cover every minute.
pub(crate) const EVERY_MINUTE: &[u8] = b"all";

macro_rules! impl_rollup_reads {
    ($db:ty, $readers:ident, $writer:ident) => {
        /// Settles the first minute rollups cover, once, after migrating
        /// and converting: the first after the newest span stored before,
        /// or every minute when none was.
        pub(crate) async fn settle_rollups_from(&self) -> $crate::error::Result<()> {
            let newest: Option<i64> = sqlx::query_scalar("SELECT max(start_hi) FROM span_packs")
                .fetch_one(&self.$writer)
                .await?;
            let value = match newest {
                Some(t) => ($crate::rollup::minute_of(t) + 1).to_string().into_bytes(),
                None => $crate::rollup_reads::EVERY_MINUTE.to_vec(),
            };
            sqlx::query(
                "UPDATE settings SET value = $1 WHERE name = 'rollups_from' AND value = $2",
            )
            .bind(value)
            .bind($crate::rollup_reads::UNSETTLED.to_vec())
            .execute(&self.$writer)
            .await?;
            Ok(())
        }

        /// The first minute rollups cover; `None`: every minute.
        pub(crate) async fn rollups_from(&self) -> $crate::error::Result<Option<i64>> {
            let value: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT value FROM settings WHERE name = 'rollups_from'")
                    .fetch_optional(&self.$readers)
                    .await?;
            match value.as_deref() {
                Some($crate::rollup_reads::EVERY_MINUTE) => Ok(None),
                Some(minute) => std::str::from_utf8(minute)
                    .ok()
                    .and_then(|m| m.parse().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        $crate::error::StoreError::Corrupt(format!(
                            "settings: rollups_from is {:?}",
                            String::from_utf8_lossy(minute)
                        ))
                    }),
                None => Err($crate::error::StoreError::Corrupt(
                    "settings: rollups_from is missing".into(),
                )),
            }
        }

        /// Calls `each` with what rollups hold of the minutes in `minutes`,
        /// each row with the minutes it spans: the whole hours' hourly rows
        /// and their minute rows not merged yet, and the other minutes'
        /// rows, merged or not; in no particular order.
        pub(crate) async fn rollups(
            &self,
            minutes: std::ops::Range<i64>,
            mut each: impl FnMut($crate::rollup::Key, i64, $crate::rollup::Figures),
        ) -> $crate::error::Result<()> {
            use futures_util::TryStreamExt as _;
            const COLUMNS: &str = $crate::rollup::ROW_COLUMNS;
            let hours = $crate::rollup::whole_hours(minutes.clone());
            let (edges, hours) = if hours.is_empty() {
                ([minutes.clone(), minutes.end..minutes.end], None)
            } else {
                (
                    [minutes.start..hours.start, hours.end..minutes.end],
                    Some(hours),
                )
            };
            let mut reads = Vec::new();
            for edge in edges.into_iter().filter(|r| !r.is_empty()) {
                reads.push((
                    format!("SELECT {COLUMNS} FROM rollups WHERE minute >= $1 AND minute < $2"),
                    edge,
                    1,
                ));
            }
            if let Some(hours) = hours {
                reads.push((
                    format!(
                        "SELECT {COLUMNS} FROM rollups \
                         WHERE minute >= $1 AND minute < $2 AND NOT merged"
                    ),
                    hours.clone(),
                    1,
                ));
                reads.push((
                    format!(
                        "SELECT {COLUMNS} FROM rollups_hourly WHERE minute >= $1 AND minute < $2"
                    ),
                    hours,
                    $crate::rollup::HOUR_MINUTES,
                ));
            }
            for (sql, range, span) in reads {
                let mut rows = sqlx::query_as::<_, $crate::rollup::Row>(sqlx::AssertSqlSafe(sql))
                    .bind(range.start)
                    .bind(range.end)
                    .fetch(&self.$readers);
                while let Some(row) = rows.try_next().await? {
                    let (key, figures) = $crate::rollup::of_row(row)?;
                    each(key, span, figures);
                }
            }
            Ok(())
        }
    };
}

pub(crate) use impl_rollup_reads;
