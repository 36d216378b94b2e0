//! The work itself: plain, blocking functions, run on tokio's blocking threads (never on the
//! runtime's workers, so the API stays responsive). Each reports its progress in at least 100
//! steps and checks for cancellation often enough to stop within a few milliseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::jobs::{Hashchain, JobResult, JobSpec, Mandelbrot, Primes, Wait};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Steps a job's progress is reported in, at least.
const STEPS: u64 = 100;

/// What a running job shares with its worker: the progress it has made, and whether to stop.
#[derive(Debug, Default)]
pub struct Step {
    /// Progress from 0.0 to 1.0, as `f64` bits.
    progress: AtomicU64,
    pub cancel: CancellationToken,
}

impl Step {
    /// A step cancelled by `cancel`, or with it when `stop` is cancelled (a child token: the
    /// server's shutdown reaches the work at once, even when nothing polls the worker any more).
    pub fn stopped_by(stop: &CancellationToken) -> Self {
        Self {
            progress: AtomicU64::default(),
            cancel: stop.child_token(),
        }
    }

    pub fn progress(&self) -> f64 {
        f64::from_bits(self.progress.load(Ordering::Relaxed))
    }

    fn report(&self, done: u64, total: u64) {
        let fraction = if total == 0 {
            1.0
        } else {
            done as f64 / total as f64
        };
        self.progress
            .store(fraction.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    /// `Err(Stopped)` once the job is to stop.
    fn go_on(&self) -> Result<(), Stopped> {
        if self.cancel.is_cancelled() {
            Err(Stopped)
        } else {
            Ok(())
        }
    }
}

/// The job was told to stop (cancelled, or the server is shutting down) and did.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped;

/// What a finished job hands back: its result, and a picture's bytes for `mandelbrot`.
#[derive(Debug)]
pub struct Output {
    pub result: JobResult,
    pub image: Option<Vec<u8>>,
}

/// Runs `spec` to the end, or until `step` says stop.
pub fn run(spec: &JobSpec, step: &Step) -> Result<Output, Stopped> {
    let result = match spec {
        JobSpec::Primes(Primes { limit }) => JobResult::Primes {
            count: count_primes(*limit, step)?,
        },
        JobSpec::Hashchain(Hashchain { seed, rounds }) => JobResult::Hashchain {
            hash: hex(&hash_chain(seed, *rounds, step)?),
        },
        JobSpec::Mandelbrot(region) => {
            let png = mandelbrot_png(region, step)?;
            return Ok(Output {
                result: JobResult::Mandelbrot {
                    width: region.width,
                    height: region.height,
                    png_bytes: png.len() as u64,
                },
                image: Some(png),
            });
        }
        JobSpec::Wait(Wait { seconds }) => {
            wait(*seconds, step)?;
            JobResult::Wait {
                waited_seconds: *seconds,
            }
        }
    };
    Ok(Output {
        result,
        image: None,
    })
}

/// How many primes are ≤ `limit`: a segmented sieve of Eratosthenes over the odd numbers, so
/// its memory is the primes up to √limit and one segment, whatever the limit.
pub fn count_primes(limit: u64, step: &Step) -> Result<u64, Stopped> {
    /// Odd numbers per segment: 256 KiB of flags, which stays in a core's cache.
    const SEGMENT: u64 = 1 << 18;
    if limit < 2 {
        return Ok(0);
    }
    let root = limit.isqrt();
    let base = small_primes(root);
    // Odd number 2j + 1 has index j; 3 is index 1, and the last index is (limit - 1) / 2.
    let last = (limit - 1) / 2;
    let segment = SEGMENT.min(last.div_ceil(STEPS)).max(1);
    let mut composite = vec![false; segment as usize];
    let mut count = 1; // 2
    let mut low = 1;
    while low <= last {
        step.go_on()?;
        let high = (low + segment).min(last + 1);
        let flags = &mut composite[..(high - low) as usize];
        flags.fill(false);
        let top = 2 * high - 1;
        for &p in base.iter().skip(1).take_while(|&&p| p * p <= top) {
            // The first odd multiple of p at or after 2·low + 1, and not below p².
            let first = (2 * low + 1).div_ceil(p).max(p) * p;
            let first = if first % 2 == 0 { first + p } else { first };
            let mut j = (first - 1) / 2;
            while j < high {
                flags[(j - low) as usize] = true;
                j += p;
            }
        }
        count += flags.iter().filter(|&&c| !c).count() as u64;
        step.report(high - 1, last);
        low = high;
    }
    Ok(count)
}

/// The primes up to `limit` (a plain sieve: `limit` is at most 100 000 here).
fn small_primes(limit: u64) -> Vec<u64> {
    let limit = limit as usize;
    let mut composite = vec![false; limit + 1];
    let mut primes = Vec::new();
    for n in 2..=limit {
        if !composite[n] {
            primes.push(n as u64);
            for multiple in (n * n..=limit).step_by(n) {
                composite[multiple] = true;
            }
        }
    }
    primes
}

/// SHA-256 applied `rounds` times: first to the seed's UTF-8 bytes, then to the previous hash.
pub fn hash_chain(seed: &str, rounds: u64, step: &Step) -> Result<[u8; 32], Stopped> {
    /// Rounds between two checks for cancellation (a few milliseconds of work).
    const CHECK: u64 = 16_384;
    let mut hash: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    let mut done = 1;
    while done < rounds {
        step.go_on()?;
        let chunk = CHECK.min(rounds - done).min(rounds.div_ceil(STEPS));
        for _ in 0..chunk {
            hash = Sha256::digest(hash).into();
        }
        done += chunk;
        step.report(done, rounds);
    }
    step.report(rounds, rounds);
    Ok(hash)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The region as an RGB picture, encoded as PNG: points in the set black, the others coloured
/// by how fast they escape.
pub fn mandelbrot_png(region: &Mandelbrot, step: &Step) -> Result<Vec<u8>, Stopped> {
    let (width, height) = (region.width as usize, region.height as usize);
    let scale = region.span / f64::from(region.width);
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        step.go_on()?;
        let im = region.centre_im - (y as f64 + 0.5 - height as f64 / 2.0) * scale;
        for x in 0..width {
            let re = region.centre_re + (x as f64 + 0.5 - width as f64 / 2.0) * scale;
            pixels.extend_from_slice(&colour(
                escape(re, im, region.max_iterations),
                region.max_iterations,
            ));
        }
        step.report(y as u64 + 1, height as u64);
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, region.width, region.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .expect("a PNG of valid size encodes into memory");
    Ok(png)
}

/// Iterations before `z² + c` leaves the circle of radius 2, or `max` if it stays.
fn escape(re: f64, im: f64, max: u32) -> u32 {
    let (mut x, mut y) = (0.0f64, 0.0f64);
    for n in 0..max {
        let (xx, yy) = (x * x, y * y);
        if xx + yy > 4.0 {
            return n;
        }
        y = 2.0 * x * y + im;
        x = xx - yy + re;
    }
    max
}

/// Black inside the set; outside, a blue–orange ramp by escape speed.
fn colour(n: u32, max: u32) -> [u8; 3] {
    if n >= max {
        return [0, 0, 0];
    }
    let t = f64::from(n) / f64::from(max);
    let channel = |v: f64| (v.clamp(0.0, 1.0) * 255.0) as u8;
    [
        channel(9.0 * (1.0 - t) * t * t * t),
        channel(15.0 * (1.0 - t) * (1.0 - t) * t * t),
        channel(8.5 * (1.0 - t) * (1.0 - t) * (1.0 - t) * t),
    ]
}

/// Does nothing for `seconds`, in 100 steps, looking up at least every 50 ms.
fn wait(seconds: u32, step: &Step) -> Result<(), Stopped> {
    let total = Duration::from_secs(u64::from(seconds));
    let slice = (total / STEPS as u32).min(Duration::from_millis(50));
    let started = std::time::Instant::now();
    while started.elapsed() < total {
        step.go_on()?;
        std::thread::sleep(slice.min(total.saturating_sub(started.elapsed())));
        step.report(
            started.elapsed().as_millis() as u64,
            total.as_millis() as u64,
        );
    }
    step.report(1, 1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sieve_counts_known_prime_counts() {
        let step = Step::default();
        for (limit, count) in [
            (2, 1),
            (3, 2),
            (10, 4),
            (100, 25),
            (1_000, 168),
            (7_919, 1_000),
            (10_000, 1_229),
            (1_000_000, 78_498),
        ] {
            assert_eq!(count_primes(limit, &step), Ok(count), "π({limit})");
        }
        assert_eq!(step.progress(), 1.0);
    }

    #[test]
    fn told_to_stop_each_kind_stops_at_its_next_check() {
        let step = Step::default();
        step.cancel.cancel();
        assert_eq!(count_primes(10_000_000_000, &step), Err(Stopped));
        assert_eq!(hash_chain("seed", 200_000_000, &step), Err(Stopped));
        assert_eq!(wait(600, &step), Err(Stopped));
        let region = Mandelbrot {
            width: 2048,
            height: 2048,
            max_iterations: 10_000,
            centre_re: -0.5,
            centre_im: 0.0,
            span: 3.0,
        };
        assert_eq!(mandelbrot_png(&region, &step), Err(Stopped));
    }

    #[test]
    fn a_small_picture_is_a_png_of_its_size_black_inside_the_set() {
        let region = Mandelbrot {
            width: 64,
            height: 48,
            max_iterations: 200,
            centre_re: -0.5,
            centre_im: 0.0,
            span: 3.0,
        };
        let png = mandelbrot_png(&region, &Step::default()).expect("a picture");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut pixels).expect("its pixels");
        assert_eq!((info.width, info.height), (64, 48));
        let at = |x: usize, y: usize| &pixels[(y * 64 + x) * 3..][..3];
        // The centre, -0.5 + 0i, is in the set; the corner, -2 + 1.125i, escapes at once.
        assert_eq!(at(32, 24), [0, 0, 0]);
        assert_ne!(at(0, 0), [0, 0, 0]);
    }

    #[test]
    fn the_hash_chain_is_sha256_applied_again_and_again() {
        let step = Step::default();
        let once: [u8; 32] = Sha256::digest(b"meanwhile").into();
        assert_eq!(hash_chain("meanwhile", 1, &step), Ok(once));
        let mut direct = once;
        for _ in 1..50_000 {
            direct = Sha256::digest(direct).into();
        }
        assert_eq!(hash_chain("meanwhile", 50_000, &step), Ok(direct));
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
