//! Table columns that fit the terminal: on a narrow one the least needed columns
//! go first, so the ones that identify a row (a generation id, a path) are never
//! cut.

use ratatui::layout::Constraint;
use ratatui::widgets::Cell;

use super::widgets::cut;

/// A column: its header, its width (the least width when `fill`), and how
/// readily it is dropped (0: never; the highest goes first).
#[derive(Clone, Copy, Debug)]
pub struct Col {
    pub header: &'static str,
    pub width: u16,
    pub drop: u8,
    /// Takes the width left over (at least `width`).
    pub fill: bool,
}

impl Col {
    pub const fn fixed(header: &'static str, width: u16, drop: u8) -> Col {
        Col {
            header,
            width,
            drop,
            fill: false,
        }
    }

    pub const fn fill(header: &'static str, width: u16, drop: u8) -> Col {
        Col {
            header,
            width,
            drop,
            fill: true,
        }
    }
}

/// The positions of the columns kept in `width` (with one space between
/// columns), in their order, and their constraints.
pub fn fit(cols: &[Col], width: u16) -> (Vec<usize>, Vec<Constraint>) {
    let mut kept: Vec<usize> = (0..cols.len()).collect();
    let need = |kept: &[usize]| -> u32 {
        kept.iter().map(|&i| cols[i].width as u32).sum::<u32>()
            + kept.len().saturating_sub(1) as u32
    };
    while need(&kept) > width as u32 {
        let Some(pos) = kept
            .iter()
            .enumerate()
            .filter(|(_, &i)| cols[i].drop > 0)
            .max_by_key(|(_, &i)| cols[i].drop)
            .map(|(pos, _)| pos)
        else {
            break;
        };
        kept.remove(pos);
    }
    let constraints = kept
        .iter()
        .map(|&i| match cols[i].fill {
            true => Constraint::Min(cols[i].width),
            false => Constraint::Length(cols[i].width),
        })
        .collect();
    (kept, constraints)
}

/// The cells of one row for the `kept` columns of `cols` in `width`: each text
/// cut with an ellipsis to its column (a fill column gets what is left over),
/// never silently.
pub fn cells(cols: &[Col], kept: &[usize], width: u16, texts: &[String]) -> Vec<Cell<'static>> {
    let fixed: usize = kept
        .iter()
        .filter(|&&i| !cols[i].fill)
        .map(|&i| cols[i].width as usize)
        .sum::<usize>()
        + kept.len().saturating_sub(1);
    let fills = kept.iter().filter(|&&i| cols[i].fill).count().max(1);
    let left = (width as usize).saturating_sub(fixed) / fills;
    kept.iter()
        .map(|&i| {
            let room = match cols[i].fill {
                true => left.max(cols[i].width as usize),
                false => cols[i].width as usize,
            };
            Cell::from(cut(texts.get(i).map_or("", String::as_str), room))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_droppable_go_first_and_the_key_column_stays() {
        let cols = [
            Col::fixed("id", 18, 0),
            Col::fixed("created", 16, 3),
            Col::fixed("size", 9, 1),
            Col::fill("label", 6, 2),
        ];
        assert_eq!(fit(&cols, 80).0, [0, 1, 2, 3]);
        assert_eq!(fit(&cols, 40).0, [0, 2, 3], "created goes first");
        assert_eq!(fit(&cols, 30).0, [0, 2]);
        assert_eq!(fit(&cols, 10).0, [0], "the id is never dropped");
        // A label longer than its column ends in an ellipsis.
        let texts = [
            "20261125T031500Z".to_string(),
            "".into(),
            "1 GiB".into(),
            "before the upgrade".into(),
        ];
        let (kept, _) = fit(&cols, 40);
        let row: Vec<String> = cells(&cols, &kept, 40, &texts)
            .into_iter()
            .map(|c| format!("{c:?}"))
            .collect();
        assert!(row[2].contains("before the…"), "{row:?}");
    }
}
