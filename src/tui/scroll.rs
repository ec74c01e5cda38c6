//! How far text taller than its area is scrolled (help, Home, a confirmation's
//! facts, the backup plan). Keys move the offset; the view, which alone knows
//! the area, records how far it can go, so a key past the end does nothing and
//! the first key back moves at once.

use std::cell::Cell;

use ratatui::crossterm::event::KeyCode;

#[derive(Clone, Debug, Default)]
pub struct Scroll {
    offset: usize,
    /// The largest offset and the page height at the last draw (None before it).
    fit: Cell<Option<(usize, usize)>>,
}

impl Scroll {
    /// Moves for ↑↓ PgUp PgDn (and j/k Home End when `letters`); whether the key
    /// was a scrolling one.
    pub fn on_key(&mut self, code: KeyCode, letters: bool) -> bool {
        let (max, page) = self.fit.get().unwrap_or((usize::MAX, 10));
        let page = page.saturating_sub(1).max(1);
        self.offset = match code {
            KeyCode::Up => self.offset.saturating_sub(1),
            KeyCode::Down => self.offset.saturating_add(1),
            KeyCode::Char('k') if letters => self.offset.saturating_sub(1),
            KeyCode::Char('j') if letters => self.offset.saturating_add(1),
            KeyCode::PageUp => self.offset.saturating_sub(page),
            KeyCode::PageDown => self.offset.saturating_add(page),
            KeyCode::Home if letters => 0,
            KeyCode::End if letters => max,
            _ => return false,
        }
        .min(max);
        true
    }

    /// For the view: `content` lines in `height` rows. Records the limits and
    /// returns the first line to show.
    pub fn fit(&self, content: usize, height: usize) -> usize {
        let max = content.saturating_sub(height);
        self.fit.set(Some((max, height)));
        self.offset.min(max)
    }

    /// The largest offset at the last draw.
    pub fn fit_max(&self) -> Option<usize> {
        self.fit.get().map(|(max, _)| max)
    }

    /// Whether the last draw could not show everything at once.
    #[cfg(test)]
    pub fn overflows(&self) -> bool {
        self.fit.get().is_some_and(|(max, _)| max > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stop_at_the_ends_the_view_found() {
        let mut s = Scroll::default();
        assert_eq!(s.fit(30, 10), 0);
        assert!(s.overflows());
        for _ in 0..50 {
            s.on_key(KeyCode::Down, false);
        }
        assert_eq!(s.fit(30, 10), 20);
        s.on_key(KeyCode::Up, false);
        assert_eq!(s.fit(30, 10), 19, "the first key back moves");
        assert!(
            !s.on_key(KeyCode::Char('j'), false),
            "j is typed, not scrolled"
        );
        s.on_key(KeyCode::PageUp, false);
        assert_eq!(s.fit(30, 10), 10);
        s.on_key(KeyCode::Home, true);
        assert_eq!(s.fit(30, 10), 0);
        // Taller area: nothing to scroll.
        assert_eq!(s.fit(5, 10), 0);
        assert!(!s.overflows());
    }
}
