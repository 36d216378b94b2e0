//! The waterfall, drawn on a canvas: one row per request, growing in real time. A canvas because a
//! thousand bars redrawn each frame cost one draw call each, not a thousand DOM updates. Clicking
//! a row selects its request for the details panel.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::CanvasRenderingContext2d;

use crate::frame::{self, now_ms};
use crate::inspector::Outcome;
use crate::lab::model::{LabModel, Request};
use crate::lab::waterfall::{Layout, Phase, PixelRects};

/// The waterfall's colours, read from the page's CSS custom properties (`--phase-…`,
/// `--outcome-…`, in `style/base.css` and `style/lab.css`) so the canvas, the legend, the summary
/// and the inspector share one set, and follow the light or dark theme.
struct Palette(Vec<(&'static str, String)>);

impl Palette {
    /// The colours as the page's styles give them to `element`; `None` while they do not reach
    /// it yet (it is not in the document, or the stylesheet has not applied), so the caller draws
    /// this frame in grey and reads them again at the next, instead of keeping grey for good.
    fn read(element: &web_sys::Element) -> Option<Self> {
        if !element.is_connected() {
            return None;
        }
        let style = web_sys::window()?.get_computed_style(element).ok()??;
        let names = PHASES
            .iter()
            .map(|phase| phase.colour_var())
            .chain(OUTCOMES.iter().map(|outcome| outcome.colour_var()))
            .chain([SELECTED_ROW]);
        names
            .map(|name| {
                let value = style.get_property_value(name).ok()?;
                let value = value.trim();
                (!value.is_empty()).then(|| (name, value.to_owned()))
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    /// What a frame is drawn in while the page's colours cannot be read.
    fn grey() -> Self {
        Self(Vec::new())
    }

    fn colour(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(known, _)| *known == name)
            .map_or("gray", |(_, value)| value)
    }
}

const SELECTED_ROW: &str = "--selected-row";
const PHASES: [Phase; 5] = [
    Phase::Queued,
    Phase::Stalled,
    Phase::Waiting,
    Phase::Reading,
    Phase::Backoff,
];
const OUTCOMES: [Outcome; 7] = [
    Outcome::Applied,
    Outcome::Failed,
    Outcome::Retried,
    Outcome::Aborted,
    Outcome::TimedOut,
    Outcome::StaleDiscarded,
    Outcome::InFlight,
];

/// What the colours of the waterfall mean.
#[component]
pub fn Legend() -> impl IntoView {
    let swatch = |class: &'static str, label: &'static str| {
        view! {
            <li>
                <svg class="swatch" viewBox="0 0 10 10" width="12" height="12" aria-hidden="true">
                    <rect class=class width="10" height="10"></rect>
                </svg>
                {label}
            </li>
        }
    };
    view! {
        <ul class="legend">
            {PHASES.into_iter().map(|phase| swatch(phase.class(), phase.label())).collect_view()}
            {OUTCOMES[..6].iter().map(|outcome| swatch(outcome.class(), outcome.label())).collect_view()}
        </ul>
    }
}

#[component]
pub fn Waterfall(
    model: StoredValue<LabModel, LocalStorage>,
    frame: RwSignal<u64>,
    selected: RwSignal<Option<u64>>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    // The canvas's width, told by a ResizeObserver. Reading `clientWidth` while drawing would
    // force the browser to lay out the whole page first (the summary and the arrivals have just
    // changed) on every frame: that alone cost more than the drawing.
    let width = RwSignal::new(0.0_f64);
    let drawn = StoredValue::new_local(Drawn::default());
    let observer = StoredValue::new_local(None::<SizeObserver>);
    // The colours are read again when the system switches between light and dark.
    let theme = RwSignal::new(0u32);
    let theme_watch = StoredValue::new_local(None::<ThemeWatch>);
    canvas.on_load(move |element| {
        let element: &web_sys::Element = &element;
        observer.set_value(SizeObserver::observe(element, move |w| width.set(w)));
        theme_watch.set_value(ThemeWatch::new(move || theme.update(|t| *t += 1)));
    });
    on_cleanup(move || {
        if let Some(observer) = observer.try_update_value(Option::take).flatten() {
            observer.disconnect();
        }
        if let Some(watch) = theme_watch.try_update_value(Option::take).flatten() {
            watch.stop();
        }
    });
    Effect::new(move |_| {
        frame.track();
        if theme.get() != 0 {
            drawn.update_value(|drawn| {
                drawn.palette = None;
                drawn.picture = None;
                if let Some(settled) = drawn.settled.as_mut() {
                    settled.forget();
                }
            });
        }
        let selected = selected.get();
        let width = width.get();
        if let Some(canvas) = canvas.get() {
            frame::measure(|| {
                drawn.update_value(|drawn| {
                    model.with_value(|model| draw(&canvas, drawn, width, model, selected));
                });
            });
        }
    });
    let on_click = move |event: web_sys::MouseEvent| {
        let clicked = model.with_value(|model| {
            let layout = Layout::fit(model.requests(), now_ms(), width.get_untracked());
            layout
                .row_at(f64::from(event.offset_y()))
                .and_then(|row| model.requests().get(row))
                .map(|request| request.seq)
        });
        if clicked.is_some() {
            selected.set(clicked);
        }
    };
    // The keyboard's way to the same details: Up and Down move from request to request, Home
    // and End go to the first and the last.
    let on_key = move |event: web_sys::KeyboardEvent| {
        let key = event.key();
        if !matches!(key.as_str(), "ArrowDown" | "ArrowUp" | "Home" | "End") {
            return;
        }
        event.prevent_default();
        let next = model.with_value(|model| {
            let requests = model.requests();
            let last = requests.len().checked_sub(1)?;
            let at = selected
                .get_untracked()
                .and_then(|seq| requests.iter().position(|r| r.seq == seq));
            let row = match (key.as_str(), at) {
                ("Home", _) | (_, None) => 0,
                ("End", _) => last,
                ("ArrowDown", Some(at)) => (at + 1).min(last),
                (_, Some(at)) => at.saturating_sub(1),
            };
            Some(requests[row].seq)
        });
        if next.is_some() {
            selected.set(next);
        }
    };
    view! {
        <div class="waterfall-frame">
            <canvas
                node_ref=canvas
                class="waterfall"
                data-testid="waterfall"
                tabindex="0"
                on:click=on_click
                on:keydown=on_key
                aria-label="Waterfall: one bar per request, time running left to right. Up and Down choose a request; its details show below."
            ></canvas>
        </div>
    }
}

/// What the last frame set on the canvas element, so a frame writes to the DOM only what
/// changed (each write would make the browser recompute styles).
#[derive(Default)]
struct Drawn {
    context: Option<CanvasRenderingContext2d>,
    palette: Option<Palette>,
    /// The last frame was drawn in grey (the palette could not be read yet): its settled rows
    /// are drawn again once it can.
    in_grey: bool,
    height: f64,
    bars: Option<usize>,
    settled: Option<Settled>,
    picture: Option<Picture>,
}

/// What a frame's picture depends on.
#[derive(PartialEq)]
struct Picture {
    revision: u64,
    layout: Layout,
    size: (u32, u32),
    selected: Option<u64>,
    /// Where the clock is on the axis, in device pixels.
    now_at: i64,
}

/// A ResizeObserver reporting an element's content width; disconnect it when done.
struct SizeObserver {
    observer: web_sys::ResizeObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl SizeObserver {
    fn observe(element: &web_sys::Element, on_width: impl Fn(f64) + 'static) -> Option<Self> {
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            if let Some(entry) = entries
                .iter()
                .last()
                .and_then(|e| e.dyn_into::<web_sys::ResizeObserverEntry>().ok())
            {
                on_width(entry.content_rect().width());
            }
        });
        let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        observer.observe(element);
        Some(Self {
            observer,
            _callback: callback,
        })
    }

    fn disconnect(&self) {
        self.observer.disconnect();
    }
}

/// Calls back when the system's colour scheme changes (a `prefers-color-scheme` media query).
struct ThemeWatch {
    query: web_sys::MediaQueryList,
    _callback: Closure<dyn FnMut()>,
}

impl ThemeWatch {
    fn new(on_change: impl Fn() + 'static) -> Option<Self> {
        let query = web_sys::window()?
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()?;
        let callback = Closure::<dyn FnMut()>::new(on_change);
        query.set_onchange(Some(callback.as_ref().unchecked_ref()));
        Some(Self {
            query,
            _callback: callback,
        })
    }

    fn stop(&self) {
        self.query.set_onchange(None);
    }
}

fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    drawn: &mut Drawn,
    width: f64,
    model: &LabModel,
    selected: Option<u64>,
) {
    if drawn.context.is_none() {
        drawn.context = context_2d(canvas);
    }
    let Some(context) = drawn.context.as_ref() else {
        return;
    };
    if drawn.palette.is_none() {
        drawn.palette = Palette::read(canvas);
    }
    let coloured = drawn.palette.is_some();
    if coloured && drawn.in_grey {
        drawn.picture = None;
        if let Some(settled) = drawn.settled.as_mut() {
            settled.forget();
        }
    }
    drawn.in_grey = !coloured;
    let grey = Palette::grey();
    let palette = drawn.palette.as_ref().unwrap_or(&grey);
    let now = now_ms();
    let layout = Layout::fit(model.requests(), now, width);
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let height = layout.height();
    if height != drawn.height {
        drawn.height = height;
        // Set through the style property (CSSOM): the page's policy forbids inline style
        // attributes.
        let _ = web_sys::HtmlElement::style(canvas).set_property("height", &format!("{height}px"));
    }
    let (pixel_width, pixel_height) = ((width * ratio) as u32, (height * ratio) as u32);
    if canvas.width() != pixel_width {
        canvas.set_width(pixel_width);
    }
    if canvas.height() != pixel_height {
        canvas.set_height(pixel_height);
    }
    // What is drawn, for the browser tests (a canvas has no text to read).
    let bars = model.requests().len();
    if drawn.bars != Some(bars) {
        drawn.bars = Some(bars);
        let _ = canvas.set_attribute("data-bars", &bars.to_string());
    }
    // Nothing to draw when the picture would be the last one again: the model has not changed
    // and the clock has not moved the growing bars' ends by a device pixel. Late in a long run
    // that is most frames (the axis spans minutes), and a canvas left alone is not painted again.
    let picture = Picture {
        revision: model.revision(),
        layout,
        size: (pixel_width, pixel_height),
        selected,
        now_at: (layout.x(now) * ratio).round() as i64,
    };
    if drawn.picture.as_ref() == Some(&picture) {
        return;
    }
    drawn.picture = Some(picture);
    let painter = Painter {
        layout: &layout,
        palette,
        ratio,
        now,
    };
    let settled = drawn.settled.get_or_insert_with(Settled::new);
    settled.update(&painter, model, (pixel_width, pixel_height));

    // Drawn in device pixels (see `PixelRects`).
    let _ = context.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    context.clear_rect(0.0, 0.0, f64::from(pixel_width), f64::from(pixel_height));
    // The selected row's band, under its bars.
    if let Some(row) = selected.and_then(|seq| model.requests().iter().position(|r| r.seq == seq)) {
        let mut band = PixelRects::default();
        band.add([0.0, layout.row_top(row), width, layout.row_height], ratio);
        painter.fill(context, SELECTED_ROW, &band);
    }
    if let Some(image) = settled.canvas.as_ref() {
        let _ = context.draw_image_with_html_canvas_element(image, 0.0, 0.0);
    }
    let moving = model
        .requests()
        .iter()
        .enumerate()
        .filter(|(row, _)| !settled.holds(*row));
    painter.paint(context, moving);
}

fn context_2d(canvas: &web_sys::HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
}

/// Draws rows of the waterfall as they are at one frame.
struct Painter<'a> {
    layout: &'a Layout,
    palette: &'a Palette,
    ratio: f64,
    now: f64,
}

impl Painter<'_> {
    /// Draws `rows` (row number, request) onto `context`, in device pixels. Rectangles are
    /// gathered by colour and filled as one path per colour: a dozen fills instead of one per
    /// segment, which keeps a thousand rows cheap to draw.
    fn paint<'r>(
        &self,
        context: &CanvasRenderingContext2d,
        rows: impl Iterator<Item = (usize, &'r Request)>,
    ) {
        let layout = self.layout;
        // A gap between rows while they are tall enough to show one.
        let bar = if layout.row_height >= 3.0 {
            layout.row_height - 1.0
        } else {
            layout.row_height
        };
        // Gathered by the name of their colour; filled with the palette's value for it.
        let mut by_colour: Vec<(&'static str, PixelRects)> = Vec::new();
        let mut add = |colour: &'static str, rect: [f64; 4]| match by_colour
            .iter_mut()
            .find(|(c, _)| *c == colour)
        {
            Some((_, rects)) => rects.add(rect, self.ratio),
            None => {
                let mut rects = PixelRects::default();
                rects.add(rect, self.ratio);
                by_colour.push((colour, rects));
            }
        };
        for (row, request) in rows {
            let top = layout.row_top(row);
            for segment in layout.segments(request, self.now) {
                let (y, h) = if segment.phase == Phase::Backoff {
                    (top + bar * 0.4, bar * 0.2)
                } else {
                    (top, bar)
                };
                add(
                    segment.phase.colour_var(),
                    [segment.x0, y, segment.x1 - segment.x0, h],
                );
            }
            for cap in layout.caps(request) {
                add(
                    cap.outcome.colour_var(),
                    [(cap.x - 3.0).max(0.0), top, 3.0, bar],
                );
            }
        }
        for (colour, rects) in &by_colour {
            self.fill(context, colour, rects);
        }
    }

    fn fill(&self, context: &CanvasRenderingContext2d, colour: &str, rects: &PixelRects) {
        context.set_fill_style_str(self.palette.colour(colour));
        context.begin_path();
        for rect in rects.rects() {
            context.rect(
                f64::from(rect.x0),
                f64::from(rect.y0),
                f64::from(rect.x1 - rect.x0),
                f64::from(rect.y1 - rect.y0),
            );
        }
        context.fill();
    }
}

/// The rows that no longer change ([`Request::is_settled`]), drawn into a canvas of their own
/// (never attached to the page) and copied onto the waterfall at each frame, so that a frame
/// draws only the rows still moving. Late in a run of a thousand requests that is a few hundred
/// rows instead of a thousand. Everything is drawn again when the axis takes its next step, the
/// canvas is resized or the colours change.
struct Settled {
    canvas: Option<web_sys::HtmlCanvasElement>,
    context: Option<CanvasRenderingContext2d>,
    /// What the drawn rows depend on: the layout and the canvas's size in device pixels.
    drawn_for: Option<(Layout, (u32, u32))>,
    /// Which rows are drawn, by row number.
    rows: Vec<bool>,
}

impl Settled {
    fn new() -> Self {
        let canvas = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.create_element("canvas").ok())
            .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok());
        let context = canvas.as_ref().and_then(context_2d);
        Self {
            canvas,
            context,
            drawn_for: None,
            rows: Vec::new(),
        }
    }

    fn holds(&self, row: usize) -> bool {
        self.rows.get(row).copied().unwrap_or(false)
    }

    /// Forgets every row: they are drawn again at the next frame (the colours changed).
    fn forget(&mut self) {
        self.drawn_for = None;
    }

    /// Draws the rows that have settled since the last frame.
    fn update(&mut self, painter: &Painter, model: &LabModel, size: (u32, u32)) {
        let (Some(canvas), Some(context)) = (self.canvas.as_ref(), self.context.as_ref()) else {
            return;
        };
        let layout = *painter.layout;
        if self.drawn_for != Some((layout, size)) {
            self.drawn_for = Some((layout, size));
            self.rows.clear();
            // Setting a canvas's size clears it, even to the same size.
            canvas.set_width(size.0);
            canvas.set_height(size.1);
        }
        let requests = model.requests();
        self.rows.resize(requests.len(), false);
        // The device-pixel lines of the rows settled since the last frame, merged where they
        // meet: these lines are cleared, and redrawn with every settled row reaching into them.
        // Drawing only the new rows over what is there would fill the lines they share with
        // their neighbours twice, and the translucent colours would darken there.
        let mut lines: Vec<(i32, i32)> = Vec::new();
        for (row, request) in requests.iter().enumerate() {
            if self.rows[row] || !request.is_settled() {
                continue;
            }
            self.rows[row] = true;
            let (from, to) = layout.row_lines(row, painter.ratio);
            match lines.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => lines.push((from, to)),
            }
        }
        if lines.is_empty() {
            return;
        }
        let width = f64::from(size.0);
        context.save();
        let _ = context.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        context.begin_path();
        for (from, to) in &lines {
            context.rect(0.0, f64::from(*from), width, f64::from(to - from));
        }
        context.clip();
        for (from, to) in &lines {
            context.clear_rect(0.0, f64::from(*from), width, f64::from(to - from));
        }
        let touches = |row: usize| {
            let (from, to) = layout.row_lines(row, painter.ratio);
            lines.iter().any(|(f, t)| from < *t && to > *f)
        };
        let rows = &self.rows;
        painter.paint(
            context,
            requests
                .iter()
                .enumerate()
                .filter(|(row, _)| rows[*row] && touches(*row)),
        );
        context.restore();
    }
}
