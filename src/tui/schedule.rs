//! The schedule: the nightly timer's time, enabling and disabling it, each
//! change asked for first (focus on Cancel) and made off the UI thread.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::data::Timer;
use super::state::{Effect, Focus, Go, Reply, To};
use crate::install::schedule::{Change, TimeOfDay, DEFAULT_TIME};

/// A change of the schedule, asked for on its screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleAction {
    Enable(TimeOfDay),
    Disable,
    SetTime(TimeOfDay),
}

impl ScheduleAction {
    pub fn change(self) -> Change {
        match self {
            ScheduleAction::Enable(t) => Change {
                at: Some(t),
                enable: Some(true),
            },
            ScheduleAction::Disable => Change {
                at: None,
                enable: Some(false),
            },
            ScheduleAction::SetTime(t) => Change {
                at: Some(t),
                enable: None,
            },
        }
    }
}

/// The schedule screen: the time field, a pending confirmation, a running change.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleScreen {
    /// The HH:MM field as typed.
    pub time: String,
    /// Typed into since it opened: new facts no longer overwrite it.
    pub edited: bool,
    pub confirm: Option<(ScheduleAction, Focus)>,
    pub busy: bool,
}

impl ScheduleScreen {
    pub fn new(time: Option<TimeOfDay>) -> Self {
        ScheduleScreen {
            time: time.unwrap_or(DEFAULT_TIME).to_string(),
            edited: false,
            confirm: None,
            busy: false,
        }
    }

    /// The timer's time as systemd now says, unless someone is typing a new one.
    pub fn timer_says(&mut self, time: Option<TimeOfDay>) {
        if !self.edited {
            self.time = time.unwrap_or(DEFAULT_TIME).to_string();
        }
    }

    /// The change asked for finished: the field shows the timer's time again.
    pub fn changed(&mut self) {
        self.busy = false;
        self.edited = false;
    }

    /// A key; `timer` is what systemd last said (a change is not even asked
    /// for when systemd could not be asked: it cannot be made).
    pub fn key(&mut self, key: KeyEvent, timer: Option<&Timer>) -> Reply {
        if let Some((action, focus)) = self.confirm.as_mut() {
            match key.code {
                KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                    *focus = focus.toggled();
                }
                KeyCode::Enter if *focus == Focus::Confirm => {
                    let change = action.change();
                    self.confirm = None;
                    self.busy = true;
                    return Reply::effect(Effect::Schedule(change));
                }
                KeyCode::Enter | KeyCode::Esc => self.confirm = None,
                _ => {}
            }
            return Reply::stay();
        }
        // One change at a time: systemctl is still at work on the last one.
        if self.busy && !matches!(key.code, KeyCode::Esc | KeyCode::Char('?')) {
            return Reply::stay();
        }
        let changes = match key.code {
            KeyCode::Char(c) => c != '?',
            KeyCode::Enter | KeyCode::Backspace => true,
            _ => false,
        };
        if changes && matches!(timer, Some(Timer::Unavailable(_))) {
            return Go::Say("the schedule cannot be changed here: systemd cannot be asked".into())
                .into();
        }
        let time = self.time.parse::<TimeOfDay>();
        let asked = match key.code {
            KeyCode::Char(c @ ('0'..='9' | ':')) if self.time.len() < 5 => {
                // `0230` as typed is 02:30: the colon comes by itself after the hour.
                if c != ':' && self.time.len() == 2 && !self.time.contains(':') {
                    self.time.push(':');
                }
                self.time.push(c);
                self.edited = true;
                None
            }
            KeyCode::Backspace => {
                self.time.pop();
                self.edited = true;
                None
            }
            KeyCode::Enter | KeyCode::Char('e') => match time {
                Ok(t) if key.code == KeyCode::Enter => Some(ScheduleAction::SetTime(t)),
                Ok(t) => Some(ScheduleAction::Enable(t)),
                Err(e) => return Go::Say(e).into(),
            },
            KeyCode::Char('d') => Some(ScheduleAction::Disable),
            KeyCode::Esc => return Go::Back.into(),
            KeyCode::Char('?') => return Go::Open(To::Help).into(),
            _ => None,
        };
        if let Some(action) = asked {
            self.confirm = Some((action, Focus::Cancel));
        }
        Reply::stay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::Screen;
    use crate::tui::data::{ScheduleFacts, Timer};
    use crate::tui::state::ScreenKind;
    use crate::tui::testing::{app_with, key, type_text};

    #[test]
    fn a_time_typed_without_its_colon_is_read_as_hh_mm() {
        let mut sc = ScheduleScreen::new(None);
        sc.time.clear();
        for c in "0230".chars() {
            sc.key(key(KeyCode::Char(c)), None);
        }
        assert_eq!(sc.time, "02:30");
        assert_eq!(
            sc.time.parse::<TimeOfDay>().map(|t| t.to_string()),
            Ok("02:30".into())
        );
    }

    #[test]
    fn without_systemd_no_change_is_asked_for() {
        let mut app = app_with(&[]);
        app.on_key(key(KeyCode::Char('s')));
        app.set_schedule(ScheduleFacts {
            timer: Timer::Unavailable("systemd is not running here".into()),
            last: Ok(Default::default()),
        });
        for c in ['e', 'd', '1'] {
            assert_eq!(app.on_key(key(KeyCode::Char(c))), Effect::None);
        }
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        let Screen::Schedule(sc) = app.screen() else {
            panic!()
        };
        assert!(sc.confirm.is_none());
        assert!(app.status.as_deref().unwrap().contains("cannot be changed"));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }

    #[test]
    fn schedule_changes_need_a_valid_time_and_an_explicit_yes() {
        let mut app = app_with(&[]);
        assert_eq!(app.on_key(key(KeyCode::Char('s'))), Effect::RefreshSchedule);
        assert_eq!(app.screen().kind(), ScreenKind::Schedule);
        // A bad time is refused with a hint, nothing is asked.
        for _ in 0..5 {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "25:00");
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        assert!(app.status.as_deref().unwrap().contains("HH:MM"));
        let Screen::Schedule(sc) = app.screen() else {
            panic!()
        };
        assert!(sc.confirm.is_none());
        // Facts arriving later do not overwrite what is being typed.
        for _ in 0..5 {
            app.on_key(key(KeyCode::Backspace));
        }
        type_text(&mut app, "04:30");
        app.set_schedule(ScheduleFacts {
            timer: Timer::NotInstalled,
            last: Ok(Default::default()),
        });
        // Focus starts on Cancel: Enter cancels.
        app.on_key(key(KeyCode::Char('e')));
        assert_eq!(app.on_key(key(KeyCode::Enter)), Effect::None);
        app.on_key(key(KeyCode::Char('e')));
        app.on_key(key(KeyCode::Tab));
        let at = Some(TimeOfDay {
            hour: 4,
            minute: 30,
        });
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Schedule(Change {
                at,
                enable: Some(true)
            })
        );
        // Busy: no second change until the first reports.
        assert_eq!(app.on_key(key(KeyCode::Char('d'))), Effect::None);
        assert_eq!(
            app.schedule_done(Ok("enabled".into())),
            Effect::RefreshSchedule
        );
        app.on_key(key(KeyCode::Char('d')));
        app.on_key(key(KeyCode::Right));
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Effect::Schedule(Change {
                at: None,
                enable: Some(false)
            })
        );
        app.schedule_done(Err("needs root".into()));
        assert_eq!(app.status.as_deref(), Some("needs root"));
        app.on_key(key(KeyCode::Esc));
        assert_eq!(app.screen().kind(), ScreenKind::Home);
    }
}
