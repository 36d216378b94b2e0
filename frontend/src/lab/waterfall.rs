//! Where the waterfall draws things: one row per request, time running left to right, each row
//! split into phases (queued by the strategy, waiting for a connection, waiting for the first
//! byte, reading, backing off before a retry) and capped with the colour of each attempt's
//! outcome. Pure maths, so it is tested without a canvas.

use crate::inspector::Outcome;
use crate::lab::model::Request;

/// What a stretch of a bar means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Created, but its strategy has not sent it yet.
    Queued,
    /// Handed to the browser, waiting for one of the 6 connections HTTP/1.1 allows per host.
    Stalled,
    /// Sent; waiting for the status and headers (the server's delay is here).
    Waiting,
    /// Headers arrived; reading the body.
    Reading,
    /// Between a failed attempt and its retry.
    Backoff,
}

impl Phase {
    /// The CSS class of its swatch in the legend.
    pub fn class(self) -> &'static str {
        match self {
            Self::Queued => "phase-queued",
            Self::Stalled => "phase-stalled",
            Self::Waiting => "phase-waiting",
            Self::Reading => "phase-reading",
            Self::Backoff => "phase-backoff",
        }
    }

    /// The CSS custom property holding its colour (`style/lab.css`).
    pub fn colour_var(self) -> &'static str {
        match self {
            Self::Queued => "--phase-queued",
            Self::Stalled => "--phase-stalled",
            Self::Waiting => "--phase-waiting",
            Self::Reading => "--phase-reading",
            Self::Backoff => "--phase-backoff",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued by the strategy",
            Self::Stalled => "waiting for a connection",
            Self::Waiting => "waiting for the first byte",
            Self::Reading => "reading the answer",
            Self::Backoff => "backing off before a retry",
        }
    }
}

/// A stretch of one row, in canvas pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub x0: f64,
    pub x1: f64,
    pub phase: Phase,
}

/// The end of an attempt, in canvas pixels, coloured by its outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cap {
    pub x: f64,
    pub outcome: Outcome,
}

/// Rows grow no taller than this.
pub const MAX_ROW_HEIGHT: f64 = 18.0;
/// Rows shrink no thinner than this. A thousand rows then fit the target height: a canvas that
/// stays small is redrawn cheaply every frame, and the waterfall reads as one shape.
pub const MIN_ROW_HEIGHT: f64 = 0.4;
/// The waterfall aims to fit in this height.
pub const TARGET_HEIGHT: f64 = 420.0;
/// The time axis spans at least this much, so a quick run does not fill the width.
pub const MIN_SPAN_MS: f64 = 1_000.0;
/// While requests are in flight the axis spans [`MIN_SPAN_MS`] times a power of this: a run in
/// flight fills two thirds of the width or more, and the picture is rescaled every half again
/// of its length (a dozen times in three minutes), not at every frame.
pub const AXIS_STEP: f64 = 1.5;

/// The smallest step of the axis that holds `needed` milliseconds.
fn stepped(needed: f64) -> f64 {
    let mut span = MIN_SPAN_MS;
    while span < needed {
        span *= AXIS_STEP;
    }
    span
}

/// The mapping from time to pixels, and from rows to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    pub start_ms: f64,
    pub span_ms: f64,
    pub width: f64,
    pub row_height: f64,
    pub rows: usize,
}

impl Layout {
    /// Fits `requests` into `width` pixels, from the first request queued. Once every request has
    /// ended the axis ends at the last end. While any is in flight it ends beyond `now`, growing
    /// in steps ([`AXIS_STEP`]) instead of following the clock: between two steps a finished row
    /// stays where it is, so the canvas keeps it drawn and redraws only the rows still moving.
    pub fn fit(requests: &[Request], now: f64, width: f64) -> Self {
        let start_ms = requests
            .iter()
            .map(|r| r.queued_at)
            .fold(f64::INFINITY, f64::min);
        let start_ms = if start_ms.is_finite() { start_ms } else { now };
        let end_ms = requests
            .iter()
            .map(|r| r.finished_at.unwrap_or(now))
            .fold(start_ms, f64::max);
        let needed = (end_ms - start_ms).max(MIN_SPAN_MS);
        let in_flight = requests.iter().any(|r| r.finished_at.is_none());
        let rows = requests.len();
        Self {
            start_ms,
            span_ms: if in_flight { stepped(needed) } else { needed },
            width: width.max(1.0),
            row_height: row_height(rows),
            rows,
        }
    }

    /// The canvas height that holds every row.
    pub fn height(&self) -> f64 {
        (self.rows as f64 * self.row_height).max(self.row_height)
    }

    pub fn x(&self, at_ms: f64) -> f64 {
        ((at_ms - self.start_ms) / self.span_ms * self.width).clamp(0.0, self.width)
    }

    pub fn row_top(&self, row: usize) -> f64 {
        row as f64 * self.row_height
    }

    /// The device-pixel lines `from..to` that hold everything drawn for `row` at `ratio` device
    /// pixels per CSS pixel (its rectangles snapped by [`PixelRects`] included). With rows
    /// thinner than a pixel, neighbouring rows share lines.
    pub fn row_lines(&self, row: usize, ratio: f64) -> (i32, i32) {
        let top = self.row_top(row);
        (
            (top * ratio).floor() as i32,
            ((top + self.row_height) * ratio).ceil() as i32,
        )
    }

    /// The row under a click at `y` pixels from the top.
    pub fn row_at(&self, y: f64) -> Option<usize> {
        if y < 0.0 {
            return None;
        }
        let row = (y / self.row_height).floor() as usize;
        (row < self.rows).then_some(row)
    }

    /// The phases of `request`'s row, left to right, as of `now`.
    pub fn segments(&self, request: &Request, now: f64) -> Vec<Segment> {
        let mut segments = Vec::new();
        let mut push = |from: f64, to: f64, phase| {
            let (x0, x1) = (self.x(from), self.x(to));
            if x1 > x0 {
                segments.push(Segment { x0, x1, phase });
            }
        };
        let first_start = request.attempts.first().map(|a| a.started_at);
        let queued_until = first_start.or(request.finished_at).unwrap_or(now);
        push(request.queued_at, queued_until, Phase::Queued);
        let mut previous_end = None;
        for attempt in &request.attempts {
            if let Some(end) = previous_end {
                push(end, attempt.started_at, Phase::Backoff);
            }
            let end = attempt.ended_at.unwrap_or(now);
            let report = attempt.report.as_ref();
            let within = |at: &f64| *at >= attempt.started_at && *at <= end;
            // When it got a connection: exactly (resource timing, after the answer), else as the
            // page estimated while it was in flight. One that never got one (still waiting, or
            // aborted while waiting) waited for a connection all along, unless an answer came.
            let sent = report
                .and_then(|r| r.sent_at)
                .filter(within)
                .or(attempt.slot_at.filter(within))
                .unwrap_or_else(|| {
                    let answered = report.is_some_and(|r| r.first_byte_at.is_some());
                    if answered { attempt.started_at } else { end }
                });
            let first_byte = report
                .and_then(|r| r.first_byte_at)
                .filter(|f| *f >= sent && *f <= end);
            push(attempt.started_at, sent, Phase::Stalled);
            match first_byte {
                Some(first_byte) => {
                    push(sent, first_byte, Phase::Waiting);
                    push(first_byte, end, Phase::Reading);
                }
                None => push(sent, end, Phase::Waiting),
            }
            previous_end = Some(end);
        }
        segments
    }

    /// Where each ended attempt of `request` stops, with its outcome.
    pub fn caps(&self, request: &Request) -> Vec<Cap> {
        let mut caps: Vec<Cap> = request
            .attempts
            .iter()
            .filter_map(|attempt| {
                Some(Cap {
                    x: self.x(attempt.ended_at?),
                    outcome: attempt.report.as_ref()?.outcome,
                })
            })
            .collect();
        // A request aborted before it was ever sent still ends somewhere.
        if request.attempts.is_empty()
            && let Some(finished) = request.finished_at
        {
            caps.push(Cap {
                x: self.x(finished),
                outcome: request.outcome,
            });
        }
        caps
    }
}

/// Row height for `rows` rows: as tall as fits the target height, within bounds.
pub fn row_height(rows: usize) -> f64 {
    if rows == 0 {
        return MAX_ROW_HEIGHT;
    }
    (TARGET_HEIGHT / rows as f64).clamp(MIN_ROW_HEIGHT, MAX_ROW_HEIGHT)
}

/// A rectangle in whole device pixels: columns `x0..x1`, lines `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

/// Rectangles of one colour in whole device pixels, gathered row by row from the top. With more
/// rows than the canvas has pixel lines (a thousand rows in 420 px), a row is a fraction of a
/// pixel: drawn as is, each one is blended into its neighbours' pixels, and the browser paints a
/// thousand partial rectangles per colour and frame. Snapped to whole pixels, the rows that look
/// alike (all queued at the start of a run, all waiting since the same moment) merge into one
/// rectangle, and what is left is painted without blending.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PixelRects {
    rects: Vec<PixelRect>,
}

impl PixelRects {
    /// Adds the rectangle at `x, y` (CSS pixels) of `width × height`, at `ratio` device pixels
    /// per CSS pixel. Every rectangle keeps at least one device pixel each way, so nothing drawn
    /// disappears; one that shares its left and right edges with the last one added and touches
    /// or overlaps it extends it instead.
    pub fn add(&mut self, [x, y, width, height]: [f64; 4], ratio: f64) {
        // Edges go to the nearest pixel boundary; a span that would vanish takes the one pixel
        // its middle falls in (so the last thin row stays inside the canvas).
        let snap = |from: f64, length: f64| {
            let (start, end) = ((from * ratio).round(), ((from + length) * ratio).round());
            if end > start {
                (start as i32, end as i32)
            } else {
                let middle = ((from + length / 2.0) * ratio).floor() as i32;
                (middle, middle + 1)
            }
        };
        let ((x0, x1), (y0, y1)) = (snap(x, width), snap(y, height));
        let rect = PixelRect { x0, y0, x1, y1 };
        match self.rects.last_mut() {
            Some(last)
                if last.x0 == rect.x0
                    && last.x1 == rect.x1
                    && rect.y0 <= last.y1
                    && rect.y1 >= last.y0 =>
            {
                last.y0 = last.y0.min(rect.y0);
                last.y1 = last.y1.max(rect.y1);
            }
            _ => self.rects.push(rect),
        }
    }

    pub fn rects(&self) -> &[PixelRect] {
        &self.rects
    }
}
