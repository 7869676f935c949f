//! The few NumPy/Python numeric rules pycls relies on, so we match it bit for bit.

/// `np.round` / Python 3 `round`: halves go to the even neighbour
/// (`np.round(2.5) == 2.0`), unlike `f64::round`, which rounds them away from zero.
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Greatest common divisor (`np.gcd` for positive integers).
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Least common multiple (`np.lcm` for positive integers).
pub fn lcm(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        return 0;
    }
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_go_to_even_where_rust_round_does_not() {
        for (x, numpy) in [(0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (3.5, 4.0), (-2.5, -2.0)] {
            assert_eq!(round_half_even(x), numpy, "np.round({x})");
        }
        // The disagreement this module exists for.
        assert_eq!(2.5f64.round(), 3.0);
        assert_eq!(round_half_even(2.4999999999999996), 2.0);
        assert_eq!(round_half_even(2.5000000000000004), 3.0);
    }

    #[test]
    fn lcm_and_gcd() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(lcm(8, 2), 8);
        assert_eq!(lcm(24, 4), 24);
        assert_eq!(lcm(6, 4), 12);
        assert_eq!(lcm(0, 4), 0);
    }
}
