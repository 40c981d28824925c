//! The one way a command draws a table for a person: box-drawing borders, cells wrapped to fit
//! the terminal's width; into a file or a pipe, the width of `COLUMNS` (else 100 columns).
//! Never colour: the cells are plain text.

use comfy_table::{presets::UTF8_FULL, ContentArrangement, Table};
use std::io::IsTerminal;

/// Width used when standard output is not a terminal and `COLUMNS` is unset.
pub const FILE_WIDTH: u16 = 100;

/// A new table with `header`, fitted to where standard output goes.
pub fn new(header: Vec<String>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    if !std::io::stdout().is_terminal() {
        t.set_width(width_from(std::env::var("COLUMNS").ok().as_deref()));
    }
    t
}

/// A table without a header: the continuation of a long listing.
pub fn body() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !std::io::stdout().is_terminal() {
        t.set_width(width_from(std::env::var("COLUMNS").ok().as_deref()));
    }
    t
}

/// `COLUMNS` when it is a sensible width, else [`FILE_WIDTH`].
fn width_from(columns: Option<&str>) -> u16 {
    columns
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| (40..=1000).contains(w))
        .unwrap_or(FILE_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width() {
        assert_eq!(width_from(None), FILE_WIDTH);
        assert_eq!(width_from(Some("120")), 120);
        assert_eq!(width_from(Some("3")), FILE_WIDTH);
        assert_eq!(width_from(Some("wide")), FILE_WIDTH);
    }
}
