//! pycls's quantized random functions (`pycls/sweep/random.py`) over the closed
//! interval [low, high], reproduced formula for formula so that the same uniform draws
//! give the same values. Each takes its draws from `rng` as numbers in [0, 1), the way
//! NumPy's `uniform(a, b)` is `a + (b - a) * random()`; `Draws` replays fixed ones.

use rand::Rng;

use crate::design::numpy::round_half_even;

/// A source of uniform numbers in [0, 1): any `rand` generator, or fixed draws.
pub trait Uniform {
    /// The next draw in [0, 1).
    fn next(&mut self) -> f64;

    /// NumPy's `np.random.uniform(low, high)`: `low + (high - low) * random()`.
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next()
    }

    /// NumPy's `np.random.randint(n)` as a choice among `n` items: `floor(n * random())`.
    fn index(&mut self, n: usize) -> usize {
        ((n as f64 * self.next()) as usize).min(n.saturating_sub(1))
    }
}

impl<R: Rng> Uniform for R {
    fn next(&mut self) -> f64 {
        self.random::<f64>()
    }
}

/// Fixed draws, replayed in order (tests compare against pycls run on the same draws).
pub struct Draws<'a>(pub &'a [f64]);

impl Uniform for Draws<'_> {
    fn next(&mut self) -> f64 {
        let (first, rest) = self.0.split_first().expect("ran out of replayed draws");
        self.0 = rest;
        *first
    }
}

/// A quantum as pycls writes it (8, 1, 0.1, 0.001, 1/128): its value and the decimal
/// scale that makes it whole, so `quantize` multiplies as Python's `Decimal(str(q))`
/// does, exactly, and rounds only once when the result becomes an `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantum {
    value: f64,
    /// `value * scale` is a whole number (`scale` a power of ten).
    scale: f64,
}

impl Quantum {
    /// `q` as written in decimal, with at most 9 decimals (pycls's quanta have at most 7).
    pub fn new(q: f64) -> Self {
        let mut scale = 1.0;
        while (q * scale).fract() != 0.0 && scale < 1e9 {
            scale *= 10.0;
        }
        Quantum { value: q, scale }
    }

    /// The quantum's value.
    pub fn value(self) -> f64 {
        self.value
    }

    /// `k * q` as Python's `Decimal(k) * Decimal(str(q))`, converted to the nearest `f64`.
    fn times(self, k: f64) -> f64 {
        k * (self.value * self.scale).round() / self.scale
    }
}

/// pycls `quantize(f, q, op)`: `op(f / q)` whole quanta.
pub fn quantize(f: f64, q: Quantum, op: fn(f64) -> f64) -> f64 {
    q.times(op(f / q.value))
}

/// pycls `uniform`: f in [low, high + q), floored to a multiple of q.
pub fn uniform(rng: &mut impl Uniform, low: f64, high: f64, q: Quantum) -> f64 {
    let f = rng.uniform(low, high + q.value);
    quantize(f, q, f64::floor)
}

/// pycls `log_uniform`: f = exp(-U(-ln high, -ln(low - q*))) with q* = min(q, low / 2),
/// so f lies in (low - q*, high], then ceiled to a multiple of q.
pub fn log_uniform(rng: &mut impl Uniform, low: f64, high: f64, q: Quantum) -> f64 {
    let floor = low - q.value.min(low / 2.0);
    let f = (-rng.uniform(-high.ln(), -floor.ln())).exp();
    quantize(f, q, f64::ceil)
}

/// pycls `power2_uniform`: 2^e with e uniform over the whole exponents of
/// [log2 low, log2 high], floored to a multiple of q.
pub fn power2_uniform(rng: &mut impl Uniform, low: f64, high: f64, q: Quantum) -> f64 {
    let e = rng.uniform(low.log2(), high.log2() + 1.0).floor();
    quantize(2f64.powf(e), q, f64::floor)
}

/// pycls `power2_or_log_uniform`: a power of two below q, else a log-uniform multiple
/// of q (for [1, 32] and q = 8: 1, 2 and 4 each with probability 1/6, else 8 .. 32).
pub fn power2_or_log_uniform(rng: &mut impl Uniform, low: f64, high: f64, q: Quantum) -> f64 {
    let f = power2_uniform(rng, low, high, Quantum::new(low));
    if f >= q.value {
        log_uniform(rng, low.max(q.value), high, Quantum::new(high.min(q.value)))
    } else {
        f
    }
}

/// pycls's re-rounding of a group width when a sampled RegNet becomes an AnyNet
/// (`scale_model`): 1 and 2 kept, 3 to 5 become 4, above that the nearest multiple
/// of 8 (Python's `round`, halves to even).
pub fn standard_group_width(g: u32) -> u32 {
    match g {
        0..=2 => g,
        3..=5 => 4,
        _ => round_half_even(f64::from(g) / 8.0) as u32 * 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quanta_multiply_as_decimals() {
        assert_eq!(Quantum::new(0.1).times(365.0), 36.5);
        assert_eq!(Quantum::new(0.001).times(2490.0), 2.49);
        assert_eq!(Quantum::new(1.0 / 128.0).times(128.0), 1.0);
        assert_eq!(Quantum::new(8.0).times(3.0), 24.0);
        // 3 * 0.1 in floats is 0.30000000000000004; as decimals it is 0.3.
        assert_eq!(Quantum::new(0.1).times(3.0), 0.3);
    }

    #[test]
    fn uniform_floors_and_reaches_both_ends() {
        let q = Quantum::new(1.0);
        // U(12, 29): the first draw 0 gives 12, the last below 1 gives 28.
        assert_eq!(uniform(&mut Draws(&[0.0]), 12.0, 28.0, q), 12.0);
        assert_eq!(uniform(&mut Draws(&[0.999_999]), 12.0, 28.0, q), 28.0);
        assert_eq!(uniform(&mut Draws(&[0.5]), 12.0, 28.0, q), 20.0);
    }

    #[test]
    fn log_uniform_ceils_within_the_range() {
        let q = Quantum::new(8.0);
        // Draws near 0 give f just below 256; near 1 just above 4, ceiled to 8.
        assert_eq!(log_uniform(&mut Draws(&[0.001]), 8.0, 256.0, q), 256.0);
        assert_eq!(log_uniform(&mut Draws(&[0.999_999]), 8.0, 256.0, q), 8.0);
        // Half-way in log space between 4 and 256 is 32: just past it f is below 32.
        assert_eq!(log_uniform(&mut Draws(&[0.51]), 8.0, 256.0, q), 32.0);
        assert_eq!(log_uniform(&mut Draws(&[0.49]), 8.0, 256.0, q), 40.0);
    }

    #[test]
    fn power2_or_log_uniform_splits_at_q() {
        let q = Quantum::new(8.0);
        // [1, 32]: exponents 0..5 by sixths; below 8 the power of two is kept.
        assert_eq!(power2_or_log_uniform(&mut Draws(&[0.0]), 1.0, 32.0, q), 1.0);
        assert_eq!(power2_or_log_uniform(&mut Draws(&[0.4]), 1.0, 32.0, q), 4.0);
        // From 8 up a second, log-uniform draw over (4, 32] decides.
        assert_eq!(
            power2_or_log_uniform(&mut Draws(&[0.6, 0.001]), 1.0, 32.0, q),
            32.0
        );
        assert_eq!(
            power2_or_log_uniform(&mut Draws(&[0.6, 0.999]), 1.0, 32.0, q),
            8.0
        );
    }

    #[test]
    fn group_widths_are_re_rounded_like_pycls() {
        let got: Vec<u32> = [1, 2, 3, 5, 6, 8, 12, 20, 28, 36, 120]
            .map(standard_group_width)
            .to_vec();
        // round(12 / 8) = round(1.5) = 2; round(20 / 8) = round(2.5) = 2 (half to even).
        assert_eq!(got, [1, 2, 4, 4, 8, 8, 16, 16, 32, 32, 120]);
    }
}
