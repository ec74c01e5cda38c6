//! Which generations a retention policy keeps, and why. A pure function with the
//! semantics of restic's `forget`: rules are OR-ed and count independently, buckets
//! are taken in the host's local time, and a rule with count left at the end keeps
//! the oldest generation.

use crate::config::within::{parse_within, RetentionError, Within};
use crate::config::RetentionConfig;
use std::fmt;

use chrono::{DateTime, Datelike, Months, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    pub keep_within: Option<Within>,
}

impl Policy {
    /// The policy `[retention]` describes (keep_within parsed).
    pub fn from_config(c: &RetentionConfig) -> Result<Policy, RetentionError> {
        Ok(Policy {
            keep_last: c.keep_last,
            keep_hourly: c.keep_hourly,
            keep_daily: c.keep_daily,
            keep_weekly: c.keep_weekly,
            keep_monthly: c.keep_monthly,
            keep_yearly: c.keep_yearly,
            keep_within: parse_within(&c.keep_within)?,
        })
    }

    /// No rule at all: pruning with it deletes nothing.
    pub fn is_empty(&self) -> bool {
        self.keep_last == 0
            && self.keep_hourly == 0
            && self.keep_daily == 0
            && self.keep_weekly == 0
            && self.keep_monthly == 0
            && self.keep_yearly == 0
            && self.keep_within.is_none()
    }
}

/// The rules in a few words, as the prune screen shows them: `last 3, daily 7,
/// weekly 4, monthly 12` (rules that keep nothing are left out).
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = [
            ("last", self.keep_last),
            ("hourly", self.keep_hourly),
            ("daily", self.keep_daily),
            ("weekly", self.keep_weekly),
            ("monthly", self.keep_monthly),
            ("yearly", self.keep_yearly),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
        if let Some(w) = &self.keep_within {
            parts.push(format!("within {w}"));
        }
        match parts.is_empty() {
            true => f.write_str("no rule (keeps everything)"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

impl Within {
    /// The earliest time still kept, counted back from `newest`.
    fn cutoff(&self, newest: DateTime<Utc>) -> DateTime<Utc> {
        let months = self.years.saturating_mul(12).saturating_add(self.months);
        let back = newest
            .checked_sub_months(Months::new(months))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        back.checked_sub_signed(chrono::Duration::days(self.days.into()))
            .and_then(|t| t.checked_sub_signed(chrono::Duration::hours(self.hours.into())))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub created: DateTime<Utc>,
    pub pinned: bool,
}

/// The counting rules, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Rule {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Last => "last",
            Rule::Hourly => "hourly",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
            Rule::Yearly => "yearly",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Reason {
    Pinned,
    Newest,
    /// Kept by a rule; the bucket it represents (e.g. "2026-11-24", "2026-W48").
    Rule {
        rule: Rule,
        bucket: String,
    },
    /// A rule still had count left at the oldest generation.
    OldestFor(Rule),
    Within(Within),
    NoPolicy,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Pinned => f.write_str("pinned"),
            Reason::Newest => f.write_str("newest"),
            Reason::Rule {
                rule: Rule::Last, ..
            } => f.write_str("last"),
            Reason::Rule { rule, bucket } => write!(f, "{rule} {bucket}"),
            Reason::OldestFor(rule) => write!(f, "oldest ({rule} not used up)"),
            Reason::Within(w) => write!(f, "within {w}"),
            Reason::NoPolicy => f.write_str("no retention policy"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub created: DateTime<Utc>,
    pub keep: bool,
    pub reasons: Vec<Reason>,
}

/// A rule's bucket for a time in the local zone; None for `last` (every
/// generation is a bucket of its own).
fn bucket<Tz: TimeZone>(rule: Rule, t: &DateTime<Tz>) -> Option<String> {
    match rule {
        Rule::Last => None,
        Rule::Hourly => Some(format!(
            "{:04}-{:02}-{:02} {:02}h",
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        )),
        Rule::Daily => Some(format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())),
        Rule::Weekly => {
            let w = t.iso_week();
            Some(format!("{:04}-W{:02}", w.year(), w.week()))
        }
        Rule::Monthly => Some(format!("{:04}-{:02}", t.year(), t.month())),
        Rule::Yearly => Some(format!("{:04}", t.year())),
    }
}

/// Decides for every candidate, newest first. Pinned generations are kept outside
/// the walk, so they neither need nor use up a rule's count.
pub fn plan<Tz: TimeZone>(candidates: &[Candidate], policy: &Policy, tz: &Tz) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let mut decisions: Vec<Decision> = sorted
        .iter()
        .map(|c| Decision {
            id: c.id.clone(),
            created: c.created,
            keep: false,
            reasons: Vec::new(),
        })
        .collect();
    if decisions.is_empty() {
        return decisions;
    }
    if policy.is_empty() {
        for d in &mut decisions {
            d.keep = true;
            d.reasons.push(Reason::NoPolicy);
        }
        return decisions;
    }

    let rules = [
        (Rule::Last, policy.keep_last),
        (Rule::Hourly, policy.keep_hourly),
        (Rule::Daily, policy.keep_daily),
        (Rule::Weekly, policy.keep_weekly),
        (Rule::Monthly, policy.keep_monthly),
        (Rule::Yearly, policy.keep_yearly),
    ];
    let cutoff = policy.keep_within.map(|w| (w, w.cutoff(sorted[0].created)));
    let walked: Vec<usize> = (0..sorted.len()).filter(|&i| !sorted[i].pinned).collect();

    for (rule, count) in rules {
        let mut left = count;
        // The bucket of the last generation this rule kept; None = kept nothing yet.
        let mut last_kept: Option<Option<String>> = None;
        for &i in &walked {
            if left == 0 {
                break;
            }
            let b = bucket(rule, &sorted[i].created.with_timezone(tz));
            let new_bucket = rule == Rule::Last || last_kept.as_ref() != Some(&b);
            if new_bucket {
                decisions[i].reasons.push(Reason::Rule {
                    rule,
                    bucket: b.clone().unwrap_or_default(),
                });
                last_kept = Some(b);
                left -= 1;
            }
        }
        if left > 0 && count > 0 {
            if let Some(&oldest) = walked.last() {
                let already = decisions[oldest]
                    .reasons
                    .iter()
                    .any(|r| matches!(r, Reason::Rule { rule: r2, .. } if *r2 == rule));
                if !already {
                    decisions[oldest].reasons.push(Reason::OldestFor(rule));
                }
            }
        }
    }
    for (i, c) in sorted.iter().enumerate() {
        if let Some((w, cut)) = cutoff {
            if c.created >= cut {
                decisions[i].reasons.push(Reason::Within(w));
            }
        }
        if c.pinned {
            decisions[i].reasons.insert(0, Reason::Pinned);
        }
    }
    decisions[0].reasons.insert(0, Reason::Newest);
    for d in &mut decisions {
        d.keep = !d.reasons.is_empty();
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cands(times: &[&str]) -> Vec<Candidate> {
        times
            .iter()
            .map(|t| Candidate {
                id: t.to_string(),
                created: at(t),
                pinned: false,
            })
            .collect()
    }

    fn kept(ds: &[Decision]) -> Vec<&str> {
        ds.iter()
            .filter(|d| d.keep)
            .map(|d| d.id.as_str())
            .collect()
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn several_backups_a_day_keep_the_newest_of_each_day() {
        let c = cands(&[
            "2026-11-24T03:00:00Z",
            "2026-11-24T15:00:00Z",
            "2026-11-25T03:00:00Z",
            "2026-11-25T09:00:00Z",
            "2026-11-25T21:00:00Z",
        ]);
        let p = Policy {
            keep_daily: 2,
            ..Policy::default()
        };
        let d = plan(&c, &p, &utc());
        assert_eq!(kept(&d), ["2026-11-25T21:00:00Z", "2026-11-24T15:00:00Z"]);
        assert_eq!(d[0].reasons[0], Reason::Newest);
    }

    #[test]
    fn keep_last_keeps_exactly_n() {
        let c = cands(&[
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-03T00:00:00Z",
            "2026-01-04T00:00:00Z",
        ]);
        let d = plan(
            &c,
            &Policy {
                keep_last: 2,
                ..Policy::default()
            },
            &utc(),
        );
        assert_eq!(kept(&d), ["2026-01-04T00:00:00Z", "2026-01-03T00:00:00Z"]);
    }

    #[test]
    fn weekly_follows_iso_weeks_across_the_year_boundary() {
        // 2020-12-31 (Thu) and 2021-01-03 (Sun) are both 2020-W53; 2021-01-04 is 2021-W01.
        let c = cands(&[
            "2020-12-28T12:00:00Z",
            "2020-12-31T12:00:00Z",
            "2021-01-03T12:00:00Z",
            "2021-01-04T12:00:00Z",
        ]);
        let d = plan(
            &c,
            &Policy {
                keep_weekly: 2,
                ..Policy::default()
            },
            &utc(),
        );
        assert_eq!(kept(&d), ["2021-01-04T12:00:00Z", "2021-01-03T12:00:00Z"]);
        assert_eq!(
            d[1].reasons,
            [Reason::Rule {
                rule: Rule::Weekly,
                bucket: "2020-W53".into()
            }]
        );
        // 2024-12-30 (Mon) belongs to 2025-W01, the same week as 2025-01-05.
        let c = cands(&[
            "2024-12-29T12:00:00Z",
            "2024-12-30T12:00:00Z",
            "2025-01-05T12:00:00Z",
        ]);
        let d = plan(
            &c,
            &Policy {
                keep_weekly: 2,
                ..Policy::default()
            },
            &utc(),
        );
        assert_eq!(kept(&d), ["2025-01-05T12:00:00Z", "2024-12-29T12:00:00Z"]);
    }

    #[test]
    fn monthly_and_yearly_across_a_year_boundary() {
        let c = cands(&[
            "2025-11-15T00:00:00Z",
            "2025-12-01T00:00:00Z",
            "2025-12-31T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-20T00:00:00Z",
        ]);
        let d = plan(
            &c,
            &Policy {
                keep_monthly: 2,
                ..Policy::default()
            },
            &utc(),
        );
        assert_eq!(kept(&d), ["2026-01-20T00:00:00Z", "2025-12-31T00:00:00Z"]);
        let d = plan(
            &c,
            &Policy {
                keep_yearly: 5,
                ..Policy::default()
            },
            &utc(),
        );
        // 2026 and 2025 are kept; the count is not used up, so the oldest is kept too.
        assert_eq!(
            kept(&d),
            [
                "2026-01-20T00:00:00Z",
                "2025-12-31T00:00:00Z",
                "2025-11-15T00:00:00Z"
            ]
        );
        assert_eq!(d[4].reasons, [Reason::OldestFor(Rule::Yearly)]);
    }

    #[test]
    fn buckets_are_taken_in_local_time() {
        // 23:30 UTC on the 24th is the 25th in +10:00 and still the 24th in -05:00.
        let c = cands(&["2026-11-24T12:00:00Z", "2026-11-24T23:30:00Z"]);
        let p = Policy {
            keep_daily: 1,
            ..Policy::default()
        };
        let plus10 = FixedOffset::east_opt(10 * 3600).unwrap();
        let minus5 = FixedOffset::west_opt(5 * 3600).unwrap();
        // In +10:00 the two are different days: daily 1 keeps the newest only.
        assert_eq!(kept(&plan(&c, &p, &plus10)), ["2026-11-24T23:30:00Z"]);
        let p2 = Policy {
            keep_daily: 2,
            ..Policy::default()
        };
        assert_eq!(
            kept(&plan(&c, &p2, &plus10)),
            ["2026-11-24T23:30:00Z", "2026-11-24T12:00:00Z"]
        );
        // In -05:00 both are on the 24th: daily 2 keeps one, plus the oldest fill.
        let d = plan(&c, &p2, &minus5);
        assert_eq!(
            d[0].reasons[1],
            Reason::Rule {
                rule: Rule::Daily,
                bucket: "2026-11-24".into()
            }
        );
        assert_eq!(d[1].reasons, [Reason::OldestFor(Rule::Daily)]);
    }

    #[test]
    fn rules_are_ored_and_count_independently() {
        // 60 daily backups at 03:00 from 2026-01-01 (Thu) to 2026-03-01 (Sun).
        let start = at("2026-01-01T03:00:00Z");
        let c: Vec<Candidate> = (0..60)
            .map(|i| {
                let t = start + chrono::Duration::days(i);
                Candidate {
                    id: t.format("%m-%d").to_string(),
                    created: t,
                    pinned: false,
                }
            })
            .collect();
        let p = Policy {
            keep_daily: 7,
            keep_weekly: 4,
            ..Policy::default()
        };
        let d = plan(&c, &p, &utc());
        // Daily: 03-01 back to 02-23. Weekly (Sundays end ISO weeks): 03-01 (W09),
        // 02-22 (W08), 02-15 (W07), 02-08 (W06).
        assert_eq!(
            kept(&d),
            [
                "03-01", "02-28", "02-27", "02-26", "02-25", "02-24", "02-23", "02-22", "02-15",
                "02-08"
            ]
        );
        let first = d.iter().find(|x| x.id == "03-01").unwrap();
        assert_eq!(
            first.reasons.len(),
            3,
            "newest, daily and weekly: {:?}",
            first.reasons
        );
    }

    #[test]
    fn keep_within_keeps_everything_recent_enough() {
        let c = cands(&[
            "2026-11-25T12:00:00Z",
            "2026-11-23T12:00:00Z",
            "2026-11-23T11:59:59Z",
            "2026-11-15T12:00:00Z",
            "2026-11-14T12:00:00Z",
            "2026-10-25T12:00:00Z",
            "2026-10-24T12:00:00Z",
        ]);
        let p = |w: &str| Policy {
            keep_within: parse_within(w).unwrap(),
            ..Policy::default()
        };
        assert_eq!(
            kept(&plan(&c, &p("2d"), &utc())),
            ["2026-11-25T12:00:00Z", "2026-11-23T12:00:00Z"]
        );
        assert_eq!(kept(&plan(&c, &p("1w3d"), &utc())).len(), 4);
        assert_eq!(kept(&plan(&c, &p("1m"), &utc())).len(), 6);
    }

    #[test]
    fn parse_within_accepts_units_and_explains_errors() {
        assert_eq!(parse_within("").unwrap(), None);
        assert_eq!(
            parse_within("1w3d").unwrap(),
            Some(Within {
                days: 10,
                ..Within::default()
            })
        );
        assert_eq!(
            parse_within("1y6m12h").unwrap(),
            Some(Within {
                years: 1,
                months: 6,
                days: 0,
                hours: 12
            })
        );
        let e = parse_within("3x").unwrap_err().to_string();
        assert!(
            e.contains("unknown unit 'x'") && e.contains("keep_within"),
            "{e}"
        );
        assert!(parse_within("5")
            .unwrap_err()
            .to_string()
            .contains("has no unit"));
        assert!(parse_within("d")
            .unwrap_err()
            .to_string()
            .contains("no number"));
    }

    #[test]
    fn pinned_are_kept_and_do_not_use_up_counts() {
        let mut c = cands(&[
            "2026-01-03T00:00:00Z",
            "2026-01-02T00:00:00Z",
            "2026-01-01T00:00:00Z",
        ]);
        c[1].pinned = true;
        let d = plan(
            &c,
            &Policy {
                keep_last: 2,
                ..Policy::default()
            },
            &utc(),
        );
        assert_eq!(
            kept(&d),
            [
                "2026-01-03T00:00:00Z",
                "2026-01-02T00:00:00Z",
                "2026-01-01T00:00:00Z"
            ]
        );
        assert_eq!(d[1].reasons, [Reason::Pinned]);
    }

    #[test]
    fn the_newest_is_always_kept() {
        let c = cands(&[
            "2026-06-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z",
        ]);
        // keep_yearly 1 keeps 2026; the newest is 2026 anyway; within 1d keeps only it.
        let p = Policy {
            keep_within: parse_within("1d").unwrap(),
            ..Policy::default()
        };
        let d = plan(&c, &p, &utc());
        assert_eq!(kept(&d), ["2026-06-01T00:00:00Z"]);
        assert_eq!(d[0].reasons[0], Reason::Newest);
    }

    #[test]
    fn an_empty_policy_deletes_nothing_and_no_candidates_plan_nothing() {
        let c = cands(&["2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"]);
        let d = plan(&c, &Policy::default(), &utc());
        assert!(d.iter().all(|x| x.keep && x.reasons == [Reason::NoPolicy]));
        assert!(plan(
            &[],
            &Policy {
                keep_last: 1,
                ..Policy::default()
            },
            &utc()
        )
        .is_empty());
    }

    #[test]
    fn a_generation_kept_for_several_reasons_lists_each() {
        let c = cands(&["2026-11-25T03:00:00Z", "2026-11-24T03:00:00Z"]);
        let p = Policy {
            keep_last: 1,
            keep_daily: 1,
            keep_monthly: 1,
            ..Policy::default()
        };
        let d = plan(&c, &p, &utc());
        let words: Vec<String> = d[0].reasons.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            words,
            ["newest", "last", "daily 2026-11-25", "monthly 2026-11"]
        );
        // Every rule used its single count on the newest: the older one goes.
        assert!(!d[1].keep);
    }

    #[test]
    fn a_policy_reads_as_its_rules() {
        let p = Policy {
            keep_last: 3,
            keep_daily: 7,
            keep_monthly: 12,
            ..Policy::default()
        };
        assert_eq!(p.to_string(), "last 3, daily 7, monthly 12");
        assert_eq!(Policy::default().to_string(), "no rule (keeps everything)");
    }
}
