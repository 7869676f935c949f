//! The "CIFAR-10 binary version" format: records of 1 label byte (0..9) followed
//! by 1024 red, 1024 green and 1024 blue bytes of a 32x32 image, row-major;
//! `data_batch_1..5.bin` hold the training set, `test_batch.bin` the test set, all
//! inside `cifar-10-batches-bin/` of the gzip'd tar archive.

use std::io::Read;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

/// Side length of a CIFAR image.
pub const SIDE: usize = 32;
/// Bytes of one image (3 channels x 32 x 32).
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Bytes of one record: the label and the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes.
pub const CLASSES: usize = 10;
/// The class names, in label order.
pub const CLASS_NAMES: [&str; CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

const TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST_BATCH: &str = "test_batch.bin";

/// Why a file is not CIFAR-10 in the binary format.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{file}: {len} bytes is not a whole number of 3,073-byte CIFAR-10 records (truncated or not CIFAR-10 binary)")]
    Truncated { file: String, len: usize },
    #[error("{file}: record {record} has label {label}; CIFAR-10 labels are 0 to 9 (not the CIFAR-10 binary format?)")]
    BadLabel {
        file: String,
        record: usize,
        label: u8,
    },
    #[error("{file} is empty")]
    Empty { file: String },
    #[error("the archive has no {0}: use the official cifar-10-binary.tar.gz (the binary version, not the Python or MATLAB one)")]
    Missing(String),
    #[error("could not read the archive ({0}): expected the gzip'd tar cifar-10-binary.tar.gz")]
    Archive(#[from] std::io::Error),
}

/// Images and labels of one split, kept as bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// One label (0..9) per image.
    pub labels: Vec<u8>,
    /// `labels.len()` images of `IMAGE_BYTES` bytes each, channel-major (CHW).
    pub pixels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The CHW bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }

    /// Parses one `.bin` batch file; `file` names it in errors.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Split, DataError> {
        if bytes.is_empty() {
            return Err(DataError::Empty {
                file: file.to_string(),
            });
        }
        if !bytes.len().is_multiple_of(RECORD_BYTES) {
            return Err(DataError::Truncated {
                file: file.to_string(),
                len: bytes.len(),
            });
        }
        let n = bytes.len() / RECORD_BYTES;
        let mut split = Split {
            labels: Vec::with_capacity(n),
            pixels: Vec::with_capacity(n * IMAGE_BYTES),
        };
        for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            let label = chunk[0];
            if usize::from(label) >= CLASSES {
                return Err(DataError::BadLabel {
                    file: file.to_string(),
                    record,
                    label,
                });
            }
            split.labels.push(label);
            split.pixels.extend_from_slice(&chunk[1..]);
        }
        Ok(split)
    }

    /// Appends images `range` to `out` in the binary format `parse` reads: per image,
    /// its label byte, then its CHW pixels.
    pub fn write_records(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        for i in range {
            out.push(self.labels[i]);
            out.extend_from_slice(self.image(i));
        }
    }

    /// Adds `other`'s images after this split's.
    pub fn append(&mut self, other: Split) {
        self.labels.extend(other.labels);
        self.pixels.extend(other.pixels);
    }

    /// `n` images with as equal a share of every class as the split allows, chosen
    /// by a seeded shuffle: the same (split, n, seed) always gives the same subset.
    pub fn balanced_subset(&self, n: usize, seed: u64) -> Split {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); CLASSES];
        for (i, &label) in self.labels.iter().enumerate() {
            by_class[usize::from(label)].push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for list in &mut by_class {
            list.shuffle(&mut rng);
        }
        // Round-robin over classes so every class gets n/10, give or take one.
        let mut chosen = Vec::with_capacity(n.min(self.len()));
        let mut depth = 0;
        while chosen.len() < n.min(self.len()) {
            for list in &by_class {
                if chosen.len() < n && depth < list.len() {
                    chosen.push(list[depth]);
                }
            }
            depth += 1;
        }
        chosen.sort_unstable();
        let mut out = Split {
            labels: Vec::with_capacity(chosen.len()),
            pixels: Vec::with_capacity(chosen.len() * IMAGE_BYTES),
        };
        for i in chosen {
            out.labels.push(self.labels[i]);
            out.pixels.extend_from_slice(self.image(i));
        }
        out
    }
}

/// The training and test splits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cifar10 {
    pub train: Split,
    pub test: Split,
}

impl Cifar10 {
    /// Reads `cifar-10-binary.tar.gz` (gzip'd tar) from any reader.
    pub fn from_archive(reader: impl Read) -> Result<Cifar10, DataError> {
        Cifar10::from_tar(flate2::read::GzDecoder::new(reader))
    }

    /// Reads the archive already inflated (the tar inside the gzip), as a browser's
    /// own gzip decoder gives it.
    pub fn from_tar(reader: impl Read) -> Result<Cifar10, DataError> {
        let mut archive = tar::Archive::new(reader);
        let mut train: Vec<Option<Split>> = vec![None; TRAIN_BATCHES.len()];
        let mut test = None;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.to_string_lossy().into_owned();
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            let slot = if name == TEST_BATCH {
                &mut test
            } else if let Some(i) = TRAIN_BATCHES.iter().position(|b| *b == name) {
                &mut train[i]
            } else {
                continue;
            };
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes)?;
            *slot = Some(Split::parse(&path, &bytes)?);
        }
        let mut all = Split::default();
        for (i, batch) in train.into_iter().enumerate() {
            all.append(batch.ok_or_else(|| DataError::Missing(TRAIN_BATCHES[i].to_string()))?);
        }
        let test = test.ok_or_else(|| DataError::Missing(TEST_BATCH.to_string()))?;
        Ok(Cifar10 { train: all, test })
    }

    /// Reads the archive, or a directory of extracted `.bin` batches.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(path: &std::path::Path) -> Result<Cifar10, DataError> {
        if path.is_dir() {
            let read = |name: &str| -> Result<Split, DataError> {
                let file = path.join(name);
                let bytes =
                    std::fs::read(&file).map_err(|_| DataError::Missing(name.to_string()))?;
                Split::parse(&file.to_string_lossy(), &bytes)
            };
            let mut train = Split::default();
            for name in TRAIN_BATCHES {
                train.append(read(name)?);
            }
            return Ok(Cifar10 {
                train,
                test: read(TEST_BATCH)?,
            });
        }
        let file = std::fs::File::open(path)?;
        Cifar10::from_archive(std::io::BufReader::new(file))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `n` synthetic records with labels `i % 10` and pixels derived from `i`.
    pub fn records(n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n * RECORD_BYTES);
        for i in 0..n {
            out.push((i % CLASSES) as u8);
            out.extend((0..IMAGE_BYTES).map(|p| ((i * 7 + p) % 256) as u8));
        }
        out
    }

    /// A gzip'd tar holding `files` under `cifar-10-batches-bin/`.
    pub fn archive(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(
                &mut header,
                format!("cifar-10-batches-bin/{name}"),
                bytes.as_slice(),
            )
            .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    fn full_archive(per_batch: usize) -> Vec<u8> {
        let mut files: Vec<(&str, Vec<u8>)> = TRAIN_BATCHES
            .iter()
            .map(|b| (*b, records(per_batch)))
            .collect();
        files.push((TEST_BATCH, records(per_batch)));
        files.push(("batches.meta.txt", CLASS_NAMES.join("\n").into_bytes()));
        archive(&files)
    }

    #[test]
    fn reads_a_synthetic_archive() {
        let data = Cifar10::from_archive(full_archive(20).as_slice()).unwrap();
        assert_eq!(data.train.len(), 100);
        assert_eq!(data.test.len(), 20);
        assert_eq!(data.train.pixels.len(), 100 * IMAGE_BYTES);
        assert_eq!(data.train.labels[..3], [0, 1, 2]);
        assert_eq!(data.test.image(1)[0], 7);
    }

    #[test]
    fn written_records_parse_back() {
        let split = Split::parse("x", &records(12)).unwrap();
        let mut out = Vec::new();
        split.write_records(0..split.len(), &mut out);
        assert_eq!(out, records(12));
        let mut tail = Vec::new();
        split.write_records(10..12, &mut tail);
        assert_eq!(tail, records(12)[10 * RECORD_BYTES..]);
    }

    #[test]
    fn the_inflated_tar_reads_the_same() {
        use std::io::Read as _;
        let gz = full_archive(20);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            Cifar10::from_tar(tar.as_slice()).unwrap(),
            Cifar10::from_archive(gz.as_slice()).unwrap()
        );
        // Gzip'd bytes where the tar is expected: an error, not a panic.
        assert!(Cifar10::from_tar(gz.as_slice()).is_err());
    }

    #[test]
    fn truncated_and_foreign_files_are_named_errors() {
        let mut short = records(3);
        short.pop();
        let err = Split::parse("data_batch_1.bin", &short).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { len: 9218, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("data_batch_1.bin"));

        let mut bad = records(3);
        bad[2 * RECORD_BYTES] = 10;
        let err = Split::parse("test_batch.bin", &bad).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    record: 2,
                    label: 10,
                    ..
                }
            ),
            "{err}"
        );

        let no_test = archive(&TRAIN_BATCHES.map(|b| (b, records(2))));
        assert!(
            matches!(Cifar10::from_archive(no_test.as_slice()), Err(DataError::Missing(f)) if f == TEST_BATCH)
        );
        assert!(matches!(
            Cifar10::from_archive(&b"not a gzip file"[..]),
            Err(DataError::Archive(_))
        ));
        let mut cut = full_archive(5);
        cut.truncate(cut.len() / 2);
        assert!(Cifar10::from_archive(cut.as_slice()).is_err());
    }

    #[test]
    fn balanced_subsets_are_balanced_and_deterministic() {
        let split = Split::parse("x", &records(200)).unwrap();
        let a = split.balanced_subset(35, 1);
        assert_eq!(a, split.balanced_subset(35, 1));
        assert_ne!(a, split.balanced_subset(35, 2));
        let mut counts = [0; CLASSES];
        for l in &a.labels {
            counts[usize::from(*l)] += 1;
        }
        assert!(counts.iter().all(|c| *c == 3 || *c == 4), "{counts:?}");
        assert_eq!(split.balanced_subset(1000, 0).len(), 200);
    }
}
