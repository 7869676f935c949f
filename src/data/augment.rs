//! Turning bytes into network input: pycls's per-channel normalisation and its
//! training augmentation (horizontal flip, 4-pixel zero padding, random 32x32 crop).

use rand::Rng;

use super::cifar::{Split, IMAGE_BYTES, SIDE};

/// pycls's CIFAR-10 statistics on 0..255 pixels.
pub const MEAN: [f32; 3] = [125.3, 123.0, 113.9];
pub const STD: [f32; 3] = [63.0, 62.1, 66.7];
/// Padding of the random crop.
pub const PAD: usize = 4;

/// Per-channel normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize {
            mean: MEAN,
            std: STD,
        }
    }
}

/// A batch ready for the model: `n` normalised CHW images and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub n: usize,
    /// `n * 3 * 32 * 32` values, NCHW.
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Normalize {
    /// Builds the batch of images `indices` of `split`. With an `rng`, each image is
    /// flipped with probability 1/2 and cropped at a random offset from its zero-padded
    /// (after normalisation, like pycls) 40x40 version; offsets are 0..8, exclusive, as
    /// pycls draws them with `np.random.randint(0, 8)`.
    pub fn batch(&self, split: &Split, indices: &[usize], mut rng: Option<&mut impl Rng>) -> Batch {
        let mut images = Vec::with_capacity(indices.len() * IMAGE_BYTES);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let src = split.image(i);
            labels.push(split.labels[i]);
            let (flip, dy, dx) = match rng.as_deref_mut() {
                Some(r) => (
                    r.random_bool(0.5),
                    r.random_range(0..2 * PAD),
                    r.random_range(0..2 * PAD),
                ),
                None => (false, PAD, PAD),
            };
            for c in 0..3 {
                let (mean, std) = (self.mean[c], self.std[c]);
                let plane = &src[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
                for y in 0..SIDE {
                    // Row y of the crop is row y + dy - PAD of the image (zero outside).
                    let sy = (y + dy).wrapping_sub(PAD);
                    for x in 0..SIDE {
                        let sx = (x + dx).wrapping_sub(PAD);
                        let v = if sy < SIDE && sx < SIDE {
                            let sx = if flip { SIDE - 1 - sx } else { sx };
                            (f32::from(plane[sy * SIDE + sx]) - mean) / std
                        } else {
                            0.0
                        };
                        images.push(v);
                    }
                }
            }
        }
        Batch {
            n: indices.len(),
            images,
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cifar::tests::records;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn split() -> Split {
        Split::parse("x", &records(4)).unwrap()
    }

    #[test]
    fn without_augmentation_it_only_normalises() {
        let s = split();
        let b = Normalize::default().batch(&s, &[2, 0], None::<&mut ChaCha8Rng>);
        assert_eq!(
            (b.n, b.images.len(), b.labels.clone()),
            (2, 2 * IMAGE_BYTES, vec![2, 0])
        );
        let first = f32::from(s.image(2)[0]);
        assert_eq!(b.images[0], (first - MEAN[0]) / STD[0]);
        let green = f32::from(s.image(2)[SIDE * SIDE]);
        assert_eq!(b.images[SIDE * SIDE], (green - MEAN[1]) / STD[1]);
    }

    #[test]
    fn augmentation_is_seeded_and_keeps_shapes() {
        let s = split();
        let n = Normalize::default();
        let a = n.batch(&s, &[0, 1, 2, 3], Some(&mut ChaCha8Rng::seed_from_u64(7)));
        let b = n.batch(&s, &[0, 1, 2, 3], Some(&mut ChaCha8Rng::seed_from_u64(7)));
        let c = n.batch(&s, &[0, 1, 2, 3], Some(&mut ChaCha8Rng::seed_from_u64(8)));
        assert_eq!(a, b);
        assert_ne!(a.images, c.images);
        assert_eq!(a.images.len(), 4 * IMAGE_BYTES);
        assert!(a.images.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn crops_shift_and_pad_with_zero_and_flips_mirror() {
        let s = split();
        let n = Normalize::default();
        // Over many draws, some image gets a zero (padded) top-left corner and
        // some keeps a real pixel there: crops really move.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let corners: Vec<f32> = (0..64)
            .map(|_| n.batch(&s, &[0], Some(&mut rng)).images[0])
            .collect();
        assert!(corners.contains(&0.0));
        assert!(corners.iter().any(|v| *v != 0.0));
        // The centre pixel row of a flipped, unshifted crop is the mirrored row.
        let plain = n.batch(&s, &[1], None::<&mut ChaCha8Rng>);
        let mut found_flip = false;
        for seed in 0..2048 {
            let b = n.batch(&s, &[1], Some(&mut ChaCha8Rng::seed_from_u64(seed)));
            let row = |img: &[f32]| img[16 * SIDE..17 * SIDE].to_vec();
            let mut mirrored = row(&plain.images);
            mirrored.reverse();
            if row(&b.images) == mirrored {
                found_flip = true;
            }
        }
        assert!(found_flip, "no seed produced an unshifted flip");
    }
}
