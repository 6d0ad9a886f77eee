//! Checkpoints: weights, optimiser state and step in one safetensors file, written
//! atomically (temporary file + rename), so a crash mid-write never leaves a broken
//! checkpoint behind; plus weight-only files for exchange with PyTorch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::Tensor;

use crate::optim::AdamW;
use crate::{NnError, Result};

const MODEL_PREFIX: &str = "model.";
const STEP_KEY: &str = "trainer.step";

/// Writes the model weights, the optimiser state and the number of completed steps.
pub fn save(path: &Path, vs: &VarStore, optimizer: &AdamW, step: usize) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (format!("{MODEL_PREFIX}{name}"), t.detach()))
        .collect();
    tensors.extend(optimizer.state());
    tensors.push((STEP_KEY.into(), Tensor::from_slice(&[step as i64])));
    write_atomically(path, &tensors)
}

/// Restores a [`save`]d checkpoint into `vs` and `optimizer`; returns the step count.
/// Fails, naming the tensor, when the checkpoint was written by a different model.
pub fn load(path: &Path, vs: &mut VarStore, optimizer: &mut AdamW) -> Result<usize> {
    let saved = read(path)?;
    let mismatch = |problem: String| NnError::MismatchedCheckpoint {
        path: path.to_path_buf(),
        problem,
    };
    let model: HashMap<String, Tensor> = saved
        .iter()
        .filter_map(|(k, t)| {
            k.strip_prefix(MODEL_PREFIX)
                .map(|n| (n.to_string(), t.shallow_clone()))
        })
        .collect();
    copy_into(vs, &model).map_err(mismatch)?;
    optimizer
        .load_state(&|key| saved.get(key).map(Tensor::shallow_clone))
        .map_err(mismatch)?;
    step_of(path, &saved)
}

/// The number of completed steps a [`save`]d checkpoint holds, without a model to load
/// it into: what a multi-stage trainer asks to know whether a stage is finished.
pub fn saved_step(path: &Path) -> Result<usize> {
    step_of(path, &read(path)?)
}

fn step_of(path: &Path, saved: &HashMap<String, Tensor>) -> Result<usize> {
    let step = saved
        .get(STEP_KEY)
        .ok_or_else(|| NnError::MismatchedCheckpoint {
            path: path.to_path_buf(),
            problem: format!("'{STEP_KEY}' is missing"),
        })?;
    Ok(step.int64_value(&[0]).max(0) as usize)
}

/// Writes only the weights, under the variable names (the layout a PyTorch
/// `state_dict` saved with `safetensors.torch.save_file` has).
pub fn save_weights(path: &Path, vs: &VarStore) -> Result<()> {
    let tensors: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach()))
        .collect();
    write_atomically(path, &tensors)
}

/// Loads weights into `vs` from a weight file ([`save_weights`] or a PyTorch
/// `state_dict` as `.safetensors` or `.pt`/`.bin`) or from a full [`save`] checkpoint.
/// Every variable must be present with its shape, and no unknown weight may be left.
pub fn load_weights(path: &Path, vs: &mut VarStore) -> Result<()> {
    copy_into(vs, &read_weights(path)?).map_err(|problem| NnError::MismatchedCheckpoint {
        path: path.to_path_buf(),
        problem,
    })
}

/// What [`load_matching`] did, each list sorted: the model's variables that took a saved
/// weight, those whose first half along the leading dimension took one (see
/// [`load_matching`]), and those left as initialised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub copied: Vec<String>,
    pub first_half: Vec<String>,
    pub kept: Vec<String>,
}

/// Copies into `vs` every weight of the weight files `paths` (anything [`load_weights`]
/// reads) whose name and shape match one of its variables, and leaves the others as they
/// are: to start a model from a related one — a CITRIS-VAE from a CITRIS-NF autoencoder,
/// whose encoder differs only in its output layer, and from that run's flow stage. A
/// saved weight of a variable's name that is exactly its first half along the leading
/// dimension fills that half: a Gaussian head's output is [mean, log-std], so an
/// autoencoder's output layer becomes the mean and the VAE starts encoding what the
/// autoencoder did (a random mean would hand the trained decoder noise, and far-out codes
/// that a deep flow prior amplifies). The files are read in order and a variable takes
/// its weight from the first that has one. Fails when a file gives no variable a weight,
/// since that is the wrong file rather than a partial transfer.
pub fn load_matching<P: AsRef<Path>>(paths: &[P], vs: &mut VarStore) -> Result<Transfer> {
    let mut variables = vs.variables();
    let (mut copied, mut first_half) = (Vec::new(), Vec::new());
    for path in paths {
        let path = path.as_ref();
        let saved = read_weights(path)?;
        let started_before = copied.len() + first_half.len();
        tch::no_grad(|| {
            for (name, target) in variables.iter_mut() {
                if copied.contains(name) || first_half.contains(name) {
                    continue;
                }
                match saved.get(name) {
                    Some(source) if source.size() == target.size() => {
                        copy_weight(target, source);
                        copied.push(name.clone());
                    }
                    Some(source) if is_first_half(&source.size(), &target.size()) => {
                        copy_weight(&mut target.narrow(0, 0, source.size()[0]), source);
                        first_half.push(name.clone());
                    }
                    _ => {}
                }
            }
        });
        if copied.len() + first_half.len() == started_before {
            return Err(NnError::MismatchedCheckpoint {
                path: path.to_path_buf(),
                problem: "no weight matches a variable of this model in name and shape".into(),
            });
        }
    }
    let mut kept: Vec<String> = variables
        .into_keys()
        .filter(|name| !copied.contains(name) && !first_half.contains(name))
        .collect();
    copied.sort();
    first_half.sort();
    kept.sort();
    Ok(Transfer {
        copied,
        first_half,
        kept,
    })
}

/// Whether a saved shape is a variable's shape with half its leading dimension.
fn is_first_half(saved: &[i64], variable: &[i64]) -> bool {
    match (saved.split_first(), variable.split_first()) {
        (Some((rows, rest)), Some((all_rows, all_rest))) => {
            2 * rows == *all_rows && rest == all_rest
        }
        _ => false,
    }
}

/// The weights of a weight file or, from a full checkpoint, its model part.
fn read_weights(path: &Path) -> Result<HashMap<String, Tensor>> {
    let saved = read(path)?;
    let full_checkpoint = saved.contains_key(STEP_KEY);
    Ok(saved
        .into_iter()
        .filter_map(|(k, t)| match full_checkpoint {
            true => k.strip_prefix(MODEL_PREFIX).map(|n| (n.to_string(), t)),
            false => Some((k, t)),
        })
        .collect())
}

fn copy_weight(target: &mut Tensor, source: &Tensor) {
    target.copy_(&source.to_device(target.device()).to_kind(target.kind()));
}

fn read(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.exists() {
        return Err(NnError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such checkpoint"),
        ));
    }
    let tensors = match path.extension().and_then(|e| e.to_str()) {
        Some("pt" | "bin" | "pth") => Tensor::loadz_multi(path),
        _ => Tensor::read_safetensors(path),
    }
    .map_err(|source| NnError::Torch {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(tensors.into_iter().collect())
}

/// Copies `saved` into the variables of `vs`, checking names and shapes both ways.
fn copy_into(
    vs: &mut VarStore,
    saved: &HashMap<String, Tensor>,
) -> std::result::Result<(), String> {
    let mut variables = vs.variables();
    let mut names: Vec<&String> = variables.keys().collect();
    names.sort();
    for name in names {
        let target = &variables[name];
        let source = saved
            .get(name)
            .ok_or_else(|| format!("weight '{name}' is missing"))?;
        if source.size() != target.size() {
            return Err(format!(
                "weight '{name}' has shape {:?}, the model needs {:?}",
                source.size(),
                target.size()
            ));
        }
    }
    let mut extra: Vec<&String> = saved
        .keys()
        .filter(|k| !variables.contains_key(*k))
        .collect();
    extra.sort();
    if let Some(name) = extra.first() {
        return Err(format!(
            "weight '{name}' (and {} more) is not part of this model",
            extra.len() - 1
        ));
    }
    tch::no_grad(|| {
        for (name, target) in variables.iter_mut() {
            copy_weight(target, &saved[name]);
        }
    });
    Ok(())
}

/// Writes `path` through a temporary file in the same folder and a rename.
fn write_atomically(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let tmp = temporary_sibling(path);
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&cpu, &tmp).map_err(|source| NnError::Torch {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        NnError::io(path, e)
    })
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AdamWConfig;
    use tch::{nn, Device, Kind};

    fn model(vs: &VarStore, width: i64) -> nn::Linear {
        nn::linear(vs.root() / "layer", 3, width, Default::default())
    }

    #[test]
    fn round_trip_restores_weights_optimiser_and_step() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        let vs = VarStore::new(Device::Cpu);
        let layer = model(&vs, 2);
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        let x = Tensor::randn([4, 3], (Kind::Float, Device::Cpu));
        opt.zero_grad();
        nn::Module::forward(&layer, &x).sum(Kind::Float).backward();
        opt.step(0.1);
        save(&path, &vs, &opt, 7).unwrap();

        let mut vs2 = VarStore::new(Device::Cpu);
        let layer2 = model(&vs2, 2);
        let mut opt2 = AdamW::new(&vs2, AdamWConfig::default());
        assert_eq!(load(&path, &mut vs2, &mut opt2).unwrap(), 7);
        assert_eq!(opt2.steps(), 1);
        assert!(layer.ws.equal(&layer2.ws));
        for ((k1, t1), (k2, t2)) in opt.state().iter().zip(opt2.state().iter()) {
            assert_eq!(k1, k2);
            assert!(t1.equal(t2), "{k1}");
        }
        // Weights-only loading of the full checkpoint works too.
        let mut vs3 = VarStore::new(Device::Cpu);
        let layer3 = model(&vs3, 2);
        load_weights(&path, &mut vs3).unwrap();
        assert!(layer.ws.equal(&layer3.ws));
    }

    #[test]
    fn a_different_model_is_named_in_the_error() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let vs = VarStore::new(Device::Cpu);
        let _ = model(&vs, 2);
        save_weights(&path, &vs).unwrap();
        let mut other = VarStore::new(Device::Cpu);
        let _ = model(&other, 5);
        let err = load_weights(&path, &mut other).unwrap_err().to_string();
        assert!(
            err.contains("'layer.bias' has shape [2]") && err.contains("[5]"),
            "{err}"
        );
        let mut renamed = VarStore::new(Device::Cpu);
        let _ = nn::linear(renamed.root() / "other", 3, 2, Default::default());
        let err = load_weights(&path, &mut renamed).unwrap_err().to_string();
        assert!(err.contains("'other.bias' is missing"), "{err}");
        let err = load_weights(&dir.path().join("none.safetensors"), &mut renamed).unwrap_err();
        assert!(err.to_string().contains("none.safetensors"), "{err}");
    }

    #[test]
    fn matching_weights_are_copied_and_the_rest_kept() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        let source = VarStore::new(Device::Cpu);
        let trunk = nn::linear(source.root() / "trunk", 3, 4, Default::default());
        let _ = model(&source, 2);
        save(
            &path,
            &source,
            &AdamW::new(&source, AdamWConfig::default()),
            9,
        )
        .unwrap();
        assert_eq!(saved_step(&path).unwrap(), 9);

        // Same trunk, a wider head, one variable of its own.
        let mut target = VarStore::new(Device::Cpu);
        let trunk2 = nn::linear(target.root() / "trunk", 3, 4, Default::default());
        let head = model(&target, 5);
        let own = target.root().zeros("own", &[2]);
        let head_before = head.ws.copy();
        let transfer = load_matching(&[&path], &mut target).unwrap();
        assert_eq!(transfer.copied, ["trunk.bias", "trunk.weight"]);
        assert!(transfer.first_half.is_empty());
        assert_eq!(transfer.kept, ["layer.bias", "layer.weight", "own"]);
        assert!(trunk.ws.equal(&trunk2.ws));
        assert!(
            head.ws.equal(&head_before)
                && own.equal(&Tensor::zeros([2], (Kind::Float, Device::Cpu)))
        );

        let mut unrelated = VarStore::new(Device::Cpu);
        let _ = nn::linear(unrelated.root() / "else", 3, 4, Default::default());
        let err = load_matching(&[&path], &mut unrelated)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no weight matches") && err.contains("ckpt.safetensors"),
            "{err}"
        );
        let err = saved_step(&dir.path().join("none.safetensors")).unwrap_err();
        assert!(err.to_string().contains("none.safetensors"), "{err}");
    }

    /// An autoencoder's output layer (L rows) into a Gaussian head's (2L rows: mean,
    /// then log-std): the mean half takes it, the log-std half keeps its initialisation.
    #[test]
    fn a_weight_of_half_the_rows_fills_the_first_half() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("autoencoder.safetensors");
        let source = VarStore::new(Device::Cpu);
        let code = model(&source, 2);
        save_weights(&path, &source).unwrap();

        let mut target = VarStore::new(Device::Cpu);
        let head = model(&target, 4);
        let log_std_before = head.ws.narrow(0, 2, 2).copy();
        let transfer = load_matching(&[&path], &mut target).unwrap();
        assert!(transfer.copied.is_empty() && transfer.kept.is_empty());
        assert_eq!(transfer.first_half, ["layer.bias", "layer.weight"]);
        assert!(head.ws.narrow(0, 0, 2).equal(&code.ws));
        let bias = head.bs.as_ref().unwrap();
        assert!(bias.narrow(0, 0, 2).equal(code.bs.as_ref().unwrap()));
        assert!(head.ws.narrow(0, 2, 2).equal(&log_std_before));

        // Not a half: three rows against two; other trailing dimensions (the bias is).
        let mut other = VarStore::new(Device::Cpu);
        let _ = nn::linear(other.root() / "layer", 3, 3, Default::default());
        let err = load_matching(&[&path], &mut other).unwrap_err().to_string();
        assert!(err.contains("no weight matches"), "{err}");
        let mut wider = VarStore::new(Device::Cpu);
        let _ = nn::linear(wider.root() / "layer", 5, 4, Default::default());
        let transfer = load_matching(&[&path], &mut wider).unwrap();
        assert_eq!(transfer.first_half, ["layer.bias"]);
        assert_eq!(transfer.kept, ["layer.weight"]);
    }

    /// Two files for one model (a CITRIS-NF run's autoencoder, then its flow stage): each
    /// variable takes its weight from the first file that has one; a file that gives
    /// nothing is named in the error.
    #[test]
    fn several_files_start_one_model_in_order() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        let source = VarStore::new(Device::Cpu);
        let trunk = nn::linear(source.root() / "trunk", 3, 4, Default::default());
        save_weights(&first, &source).unwrap();
        let other = VarStore::new(Device::Cpu);
        let _ = nn::linear(other.root() / "trunk", 3, 4, Default::default());
        let head = model(&other, 2);
        save_weights(&second, &other).unwrap();

        let mut target = VarStore::new(Device::Cpu);
        let trunk2 = nn::linear(target.root() / "trunk", 3, 4, Default::default());
        let head2 = model(&target, 2);
        let _ = target.root().zeros("own", &[2]);
        let transfer = load_matching(&[&first, &second], &mut target).unwrap();
        assert_eq!(
            transfer.copied,
            ["layer.bias", "layer.weight", "trunk.bias", "trunk.weight"]
        );
        assert_eq!(transfer.kept, ["own"]);
        assert!(trunk2.ws.equal(&trunk.ws) && head2.ws.equal(&head.ws));

        // The second file's trunk was already taken and it has nothing else.
        let mut trunk_only = VarStore::new(Device::Cpu);
        let _ = nn::linear(trunk_only.root() / "trunk", 3, 4, Default::default());
        let err = load_matching(&[&second, &first], &mut trunk_only)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no weight matches") && err.contains("a.safetensors"),
            "{err}"
        );
    }

    #[test]
    fn no_temporary_file_is_left() {
        let _generator = crate::test_support::exclusive_generator();
        let dir = tempfile::tempdir().unwrap();
        let vs = VarStore::new(Device::Cpu);
        let _ = model(&vs, 2);
        save_weights(&dir.path().join("w.safetensors"), &vs).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("w.safetensors")]);
    }
}
