//! The waterfall, drawn on a canvas: one row per request, growing in real time. A canvas because a
//! thousand bars redrawn each frame cost one draw call each, not a thousand DOM updates. Clicking
//! a row selects its request for the details panel.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::CanvasRenderingContext2d;

use crate::inspector::{Outcome, now_ms};
use crate::lab::model::LabModel;
use crate::lab::waterfall::{Layout, Phase, PixelRects};

/// Colours that read on both the light and the dark theme.
pub fn phase_colour(phase: Phase) -> &'static str {
    match phase {
        Phase::Queued => "rgba(128, 128, 140, 0.25)",
        Phase::Stalled => "rgba(214, 150, 40, 0.55)",
        Phase::Waiting => "rgba(70, 120, 230, 0.45)",
        Phase::Reading => "rgba(70, 120, 230, 0.95)",
        Phase::Backoff => "rgba(230, 120, 40, 0.35)",
    }
}

pub fn outcome_colour(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Applied => "#1f9d55",
        Outcome::Failed => "#d63a32",
        Outcome::Retried => "#e07b1a",
        Outcome::Aborted => "#8a8f98",
        Outcome::TimedOut => "#9b4dca",
        Outcome::StaleDiscarded => "#b0a030",
        Outcome::InFlight => "#4678e6",
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
    canvas.on_load(move |element| {
        let element: &web_sys::Element = &element;
        observer.set_value(SizeObserver::observe(element, move |w| width.set(w)));
    });
    on_cleanup(move || {
        if let Some(observer) = observer.try_update_value(Option::take).flatten() {
            observer.disconnect();
        }
    });
    Effect::new(move |_| {
        frame.track();
        let selected = selected.get();
        let width = width.get();
        if let Some(canvas) = canvas.get() {
            crate::frame_cost::measure(|| {
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
    view! {
        <div class="waterfall-frame">
            <canvas
                node_ref=canvas
                class="waterfall"
                data-testid="waterfall"
                on:click=on_click
                aria-label="Waterfall: one bar per request, time running left to right"
            ></canvas>
        </div>
    }
}

/// What the last frame set on the canvas element, so a frame writes to the DOM only what
/// changed (each write would make the browser recompute styles).
#[derive(Default)]
struct Drawn {
    context: Option<CanvasRenderingContext2d>,
    height: f64,
    bars: Option<usize>,
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

fn draw(
    canvas: &web_sys::HtmlCanvasElement,
    drawn: &mut Drawn,
    width: f64,
    model: &LabModel,
    selected: Option<u64>,
) {
    if drawn.context.is_none() {
        drawn.context = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
    }
    let Some(context) = drawn.context.as_ref() else {
        return;
    };
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
    // Drawn in device pixels (see `PixelRects`).
    let _ = context.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    context.clear_rect(0.0, 0.0, f64::from(pixel_width), f64::from(pixel_height));

    // A gap between rows while they are tall enough to show one.
    let bar = if layout.row_height >= 3.0 {
        layout.row_height - 1.0
    } else {
        layout.row_height
    };
    // Rectangles are gathered by colour and filled as one path per colour: a dozen fills a
    // frame instead of one per segment, which keeps a thousand rows cheap to redraw.
    let mut by_colour: Vec<(&'static str, PixelRects)> = Vec::new();
    let mut add = |colour: &'static str, rect: [f64; 4]| match by_colour
        .iter_mut()
        .find(|(c, _)| *c == colour)
    {
        Some((_, rects)) => rects.add(rect, ratio),
        None => {
            let mut rects = PixelRects::default();
            rects.add(rect, ratio);
            by_colour.push((colour, rects));
        }
    };
    for (row, request) in model.requests().iter().enumerate() {
        let top = layout.row_top(row);
        if Some(request.seq) == selected {
            add(
                "rgba(70, 120, 230, 0.15)",
                [0.0, top, width, layout.row_height],
            );
        }
        for segment in layout.segments(request, now) {
            let (y, h) = if segment.phase == Phase::Backoff {
                (top + bar * 0.4, bar * 0.2)
            } else {
                (top, bar)
            };
            add(
                phase_colour(segment.phase),
                [segment.x0, y, segment.x1 - segment.x0, h],
            );
        }
        for cap in layout.caps(request) {
            add(
                outcome_colour(cap.outcome),
                [(cap.x - 3.0).max(0.0), top, 3.0, bar],
            );
        }
    }
    for (colour, rects) in by_colour {
        context.set_fill_style_str(colour);
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
