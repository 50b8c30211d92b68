//! The ML payload classifier: hashed character n-grams and word tokens
//! (TF-IDF) plus the named payload features, into a multinomial logistic
//! regression trained with AdaGrad, temperature-calibrated.
//!
//! Why this model (measured, see the README): linear models over hashed
//! n-grams are the strongest cheap text classifiers for short strings; the
//! named features (signature weights among them) let the model learn how far
//! to trust each rule; inference is one sparse dot product per class
//! (sub-microsecond, no allocation once warm); and Shapley values of a
//! linear model are exact in closed form, which makes every prediction
//! explainable.

mod artifact;
mod calibrate;
mod fast;
mod hasher;
mod hybrid;
mod model;
mod train;

pub use artifact::{ArtifactError, ModelArtifact};
pub use calibrate::fit_temperature;
pub use fast::{FastScratch, FastTables};
pub use hasher::{HashScheme, NgramHasher, SparseVec};
pub use hybrid::{combine, HybridClassifier};
pub use model::{log_scale as model_log_scale, LinearModel, Scratch, ML_CLASSES};
pub use train::{class_index, TrainConfig, TrainProgress, Trainer, TrainingSet};
