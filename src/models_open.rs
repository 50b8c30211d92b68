//! Opening the models of a data directory, with progress on first use.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sentinel_models::bundle::OpenStage;
use sentinel_models::ml::TrainProgress;
use sentinel_models::trainer::Stage;
use sentinel_models::{ModelBundle, ModelsConfig};

/// A spinner for model work (hidden when `quiet`).
pub fn spinner(quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Describes a training stage for a progress line.
pub fn describe_stage(s: &Stage) -> String {
    match s {
        Stage::Featurize(TrainProgress::Featurize { done, total }) => {
            format!("featurizing {done}/{total} samples")
        }
        Stage::Fold { fold, folds } => format!("cross-validation fold {fold}/{folds}"),
        Stage::Fit(TrainProgress::Epoch {
            epoch,
            epochs,
            loss,
        }) => format!("fitting: epoch {epoch}/{epochs}, loss {loss:.4}"),
        Stage::Featurize(p) | Stage::Fit(p) => format!("{p:?}"),
        Stage::Final => "fitting the final model on all samples".into(),
    }
}

/// Opens the bundle of `data_dir`; the first time, trains the default
/// payload model and fits the behaviour model, with a spinner.
pub fn open_models(
    data_dir: &Path,
    config: &ModelsConfig,
    quiet: bool,
) -> anyhow::Result<Arc<ModelBundle>> {
    let bar = spinner(quiet);
    let mut announced = false;
    let bundle = ModelBundle::open(data_dir, config, |stage| {
        match &stage {
            OpenStage::DefaultModel(s) => {
                if !announced {
                    announced = true;
                    bar.println(format!(
                        "sentinel: first run on {}: training the default model from generated corpora (once)",
                        data_dir.display()
                    ));
                }
                bar.set_message(format!("default model: {}", describe_stage(s)));
            }
            OpenStage::BehaviourModel => bar.set_message("fitting the behaviour model on simulated traffic"),
        }
    })
    .with_context(|| format!("cannot open the models in {}", data_dir.display()))?;
    bar.finish_and_clear();
    Ok(Arc::new(bundle))
}

/// Watches the model registry: every `interval` it reads the active model
/// and canary and, when they changed (a promotion or rollback, from the
/// CLI or a control plane), calls `on_change`; a failed `on_change` is
/// retried at the next tick. Stops when `stop` is set.
pub fn spawn_registry_watch(
    name: &str,
    data_dir: std::path::PathBuf,
    interval: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mut on_change: impl FnMut() -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    use sentinel_models::registry::Registry;
    let fingerprint = |dir: &Path| -> Option<String> {
        let s = Registry::open(dir).ok()?.state().ok()?;
        serde_json::to_string(&(s.active, s.canary)).ok()
    };
    let mut last = fingerprint(&data_dir);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(interval);
                let now = fingerprint(&data_dir);
                if now.is_none() || now == last {
                    continue;
                }
                match on_change() {
                    Ok(()) => last = now,
                    // Keep serving the current models; try again next time.
                    Err(e) => {
                        eprintln!("sentinel: warning: cannot load the promoted models: {e:#}")
                    }
                }
            }
        })
        .context("cannot start the registry watch")?;
    Ok(())
}

/// Follows the model registry for a running service (see
/// [`spawn_registry_watch`]): opens the new bundle and swaps it into `watch`.
pub fn spawn_model_reloader(
    data_dir: std::path::PathBuf,
    config: ModelsConfig,
    watch: Arc<sentinel_models::bundle::ModelWatch>,
    interval: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
    audit: Arc<dyn sentinel_schema::AuditHook>,
) -> anyhow::Result<()> {
    let dir = data_dir.clone();
    spawn_registry_watch("model-reloader", data_dir, interval, stop, move || {
        let bundle = ModelBundle::open(&dir, &config, |_| {})?;
        let describe = bundle.describe();
        watch.swap(Arc::new(bundle));
        eprintln!("sentinel: models reloaded: {describe}");
        audit.audit(
            "system",
            "model.reloaded",
            &describe,
            serde_json::json!({"generation": watch.generation()}),
        );
        Ok(())
    })
}
