//! How function logs are laid out on disk, shared by the store (which
//! appends them) and the CloudWatch Logs API (which reads them).
//!
//! Every invocation leaves at least three lines (START, END, REPORT), all
//! stamped with the same time. Writing them as one row per line cost more
//! server CPU than everything else telemetry does together: each row is four
//! B-tree inserts with the group and stream names as keys. So the lines one
//! invocation printed are stored as one row, split into lines again when
//! they are read (a row holds at most [`LINES_PER_ROW`] lines; longer output
//! takes several rows).
//!
//! A line's event id is its row id shifted left by [`LINE_BITS`] plus its
//! index in the row. Ids keep the order rows were written in, and paging
//! tokens that carry one stay valid while the row exists. A row written by
//! an older Lamina holds a single line, which reads back as index 0.

/// The function log tables. The log API adds its own indexes and catalog.
pub const LOG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    grp TEXT NOT NULL,
    stream TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_group ON log_events (grp, id);
CREATE TABLE IF NOT EXISTS usage (
    day TEXT NOT NULL,
    function TEXT NOT NULL,
    requests INTEGER NOT NULL,
    billed_ms INTEGER NOT NULL,
    gb_seconds REAL NOT NULL,
    PRIMARY KEY (day, function)
);
";

/// Bits of an event id that number the line within its row.
pub const LINE_BITS: u32 = 16;
/// The most lines one row holds.
pub const LINES_PER_ROW: usize = 1 << LINE_BITS;

/// The event id of line `index` of row `row`.
pub fn event_id(row: i64, index: usize) -> i64 {
    (row << LINE_BITS) | index as i64
}

/// The row an event id belongs to.
pub fn row_of(event_id: i64) -> i64 {
    event_id >> LINE_BITS
}

/// The lines of row `row` with their event ids, in order.
pub fn lines(row: i64, text: &str) -> impl Iterator<Item = (i64, &str)> {
    text.lines().enumerate().map(move |(i, line)| (event_id(row, i), line))
}

/// Cuts what an invocation printed into row texts of at most
/// [`LINES_PER_ROW`] lines, without their last newline. Nothing printed
/// gives no row.
pub fn row_texts(text: &str) -> Vec<&str> {
    let mut rows = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.match_indices('\n').nth(LINES_PER_ROW - 1).map_or(rest.len(), |(i, _)| i + 1);
        let (row, tail) = rest.split_at(cut);
        rows.push(row.strip_suffix('\n').unwrap_or(row));
        rest = tail;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_rows_then_lines() {
        let a: Vec<_> = lines(7, "START\nhello\nEND").collect();
        assert_eq!(a.iter().map(|(_, l)| *l).collect::<Vec<_>>(), ["START", "hello", "END"]);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(a[2].0 < event_id(8, 0));
        assert_eq!(row_of(a[2].0), 7);
    }

    #[test]
    fn rows_keep_empty_lines_and_drop_the_last_newline() {
        assert_eq!(row_texts("a\n\nb\n"), ["a\n\nb"]);
        assert_eq!(lines(1, "a\n\nb").map(|(_, l)| l).collect::<Vec<_>>(), ["a", "", "b"]);
        assert!(row_texts("").is_empty());
        assert_eq!(row_texts("no newline"), ["no newline"]);
    }

    #[test]
    fn long_output_takes_several_rows() {
        let text = "x\n".repeat(LINES_PER_ROW + 3);
        let rows = row_texts(&text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].lines().count(), LINES_PER_ROW);
        assert_eq!(rows[1].lines().count(), 3);
    }
}
