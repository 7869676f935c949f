//! Named models: the 24 published RegNetX/RegNetY models (pycls model zoo,
//! `configs/dds_baselines`) and the two CIFAR-10 reference models that tests,
//! benchmarks and the page train (`REFERENCE_MODELS`).

use super::error::ParamError;
use super::regnet::RegNetParams;

/// A published model: its name and RegNet parameters (b = 1, q = 8 for all).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// e.g. `regnetx-200mf`, `regnety-1.6gf`.
    pub name: &'static str,
    pub d: u32,
    pub w0: u32,
    pub wa: f64,
    pub wm: f64,
    pub g: u32,
    pub se: bool,
}

impl Preset {
    pub fn params(&self) -> RegNetParams {
        RegNetParams {
            d: self.d,
            w0: self.w0,
            wa: self.wa,
            wm: self.wm,
            g: self.g,
            b: 1.0,
            q: 8,
            se: self.se,
        }
    }

    /// Every named model: the published ones, then the reference models.
    pub fn all() -> impl Iterator<Item = &'static Preset> {
        PRESETS.iter().chain(&REFERENCE_MODELS)
    }

    /// Finds a preset by its name, in any case.
    pub fn find(name: &str) -> Result<&'static Preset, ParamError> {
        let lower = name.to_ascii_lowercase();
        Self::all()
            .find(|p| p.name == lower)
            .ok_or_else(|| ParamError::UnknownPreset(name.to_string()))
    }

    /// The preset these parameters are exactly equal to, if any.
    pub fn matching(params: &RegNetParams) -> Option<&'static Preset> {
        Self::all().find(|p| p.params() == *params)
    }
}

const fn x(name: &'static str, d: u32, w0: u32, wa: f64, wm: f64, g: u32) -> Preset {
    Preset {
        name,
        d,
        w0,
        wa,
        wm,
        g,
        se: false,
    }
}

const fn y(name: &'static str, d: u32, w0: u32, wa: f64, wm: f64, g: u32) -> Preset {
    Preset {
        name,
        d,
        w0,
        wa,
        wm,
        g,
        se: true,
    }
}

pub const PRESETS: [Preset; 24] = [
    x("regnetx-200mf", 13, 24, 36.44, 2.49, 8),
    x("regnetx-400mf", 22, 24, 24.48, 2.54, 16),
    x("regnetx-600mf", 16, 48, 36.97, 2.24, 24),
    x("regnetx-800mf", 16, 56, 35.73, 2.28, 16),
    x("regnetx-1.6gf", 18, 80, 34.01, 2.25, 24),
    x("regnetx-3.2gf", 25, 88, 26.31, 2.25, 48),
    x("regnetx-4.0gf", 23, 96, 38.65, 2.43, 40),
    x("regnetx-6.4gf", 17, 184, 60.83, 2.07, 56),
    x("regnetx-8.0gf", 23, 80, 49.56, 2.88, 120),
    x("regnetx-12gf", 19, 168, 73.36, 2.37, 112),
    x("regnetx-16gf", 22, 216, 55.59, 2.1, 128),
    x("regnetx-32gf", 23, 320, 69.86, 2.0, 168),
    y("regnety-200mf", 13, 24, 36.44, 2.49, 8),
    y("regnety-400mf", 16, 48, 27.89, 2.09, 8),
    y("regnety-600mf", 15, 48, 32.54, 2.32, 16),
    y("regnety-800mf", 14, 56, 38.84, 2.4, 16),
    y("regnety-1.6gf", 27, 48, 20.71, 2.65, 24),
    y("regnety-3.2gf", 21, 80, 42.63, 2.66, 24),
    y("regnety-4.0gf", 22, 96, 31.41, 2.24, 64),
    y("regnety-6.4gf", 25, 112, 33.22, 2.27, 72),
    y("regnety-8.0gf", 17, 192, 76.82, 2.19, 56),
    y("regnety-12gf", 19, 168, 73.36, 2.37, 112),
    y("regnety-16gf", 18, 200, 106.23, 2.48, 112),
    y("regnety-32gf", 20, 232, 115.89, 2.53, 232),
];

/// pycls's CIFAR-10 RegNetY (`configs/sweeps/cifar/cifar_best.yaml`, "RegNet-125MF"):
/// 1,811,688 parameters at CIFAR-10.
pub const REGNETY_125MF_CIFAR: Preset = y("regnety-125mf-cifar", 12, 96, 19.5, 2.942, 8);

/// A small RegNetX (111,818 parameters at CIFAR-10) that trains in seconds: the
/// model of the training tests and the browser benchmarks.
pub const MINI_REGNETX: Preset = x("mini-regnetx", 6, 24, 16.0, 2.5, 8);

/// The reference models for CIFAR-10, not part of the model zoo.
pub const REFERENCE_MODELS: [Preset; 2] = [REGNETY_125MF_CIFAR, MINI_REGNETX];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_found_by_name() {
        assert_eq!(Preset::all().count(), 26);
        for p in Preset::all() {
            assert!(p.params().shape().is_ok(), "{}", p.name);
            assert_eq!(Preset::find(p.name).unwrap().name, p.name);
            assert_eq!(Preset::matching(&p.params()).unwrap().name, p.name);
        }
        assert!(Preset::find("RegNetX-200MF").is_ok());
        assert!(matches!(
            Preset::find("resnet50"),
            Err(ParamError::UnknownPreset(_))
        ));
    }
}
