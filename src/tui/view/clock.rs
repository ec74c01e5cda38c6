//! The time a picture is drawn at: the wall clock for dates and ages, the
//! monotonic one for running clocks. Fixed in tests, so the same state always
//! draws the same picture.

use std::time::Instant;

use chrono::{DateTime, Utc};

#[derive(Clone, Copy)]
pub struct Clock {
    pub wall: DateTime<Utc>,
    pub mono: Instant,
}

impl Clock {
    pub fn now() -> Self {
        Clock {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }
}
