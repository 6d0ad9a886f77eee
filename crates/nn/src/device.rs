//! Device selection and threading.
//!
//! The PyPI libtorch ships its CUDA kernels in `libtorch_cuda.so`, which registers the
//! CUDA backend when it is loaded. Rust's linker drops that library because no symbol
//! of it is referenced (tch-rs issue #980), so `--device cuda` would report "no CUDA".
//! Instead of forcing every binary to depend on the CUDA libraries, we load it on
//! demand, when a CUDA device is asked for; CPU runs never touch it.

use std::sync::OnceLock;

use tch::Device;

use crate::{NnError, Result};

/// Parses `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when usable, else CPU).
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    match spec.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(match load_cuda() {
            Ok(()) if tch::Cuda::is_available() => Device::Cuda(0),
            _ => Device::Cpu,
        }),
        _ => {
            let index = match spec.strip_prefix("cuda") {
                Some("") => 0,
                Some(rest) => rest
                    .strip_prefix(':')
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| NnError::UnknownDevice(spec.clone()))?,
                None => return Err(NnError::UnknownDevice(spec)),
            };
            let unavailable = |reason: String| NnError::CudaUnavailable {
                device: spec.clone(),
                reason,
            };
            load_cuda().map_err(unavailable)?;
            let count = tch::Cuda::device_count() as usize;
            if count == 0 {
                return Err(unavailable(
                    "libtorch_cuda is loaded but no CUDA device is visible (driver missing?)"
                        .into(),
                ));
            }
            if index >= count {
                return Err(unavailable(format!(
                    "only {count} CUDA device(s) are visible"
                )));
            }
            Ok(Device::Cuda(index))
        }
    }
}

/// Loads `libtorch_cuda.so` once, globally, so that libtorch registers its CUDA backend.
/// The library is found through the binary's rpath (see `.cargo/config.toml`) or
/// `LD_LIBRARY_PATH`, like the rest of libtorch.
fn load_cuda() -> std::result::Result<(), String> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            #[cfg(unix)]
            {
                use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
                // SAFETY: loading libtorch's own CUDA library runs its static
                // initialisers, which only register the CUDA dispatch keys.
                let library =
                    unsafe { Library::open(Some("libtorch_cuda.so"), RTLD_NOW | RTLD_GLOBAL) }
                        .map_err(|e| format!("cannot load libtorch_cuda.so: {e}"))?;
                // Unloading would unregister the backend while tensors may still live.
                std::mem::forget(library);
                Ok(())
            }
            #[cfg(not(unix))]
            Err("on-demand CUDA loading is only implemented for Unix".to_string())
        })
        .clone()
}

/// The number of intra-op threads to use: `requested`, else `CAUSALGEN_THREADS`, else
/// `RAYON_NUM_THREADS`, else every available core.
pub fn thread_count(requested: Option<usize>) -> usize {
    let from_env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    };
    requested
        .filter(|&n| n > 0)
        .or_else(|| from_env("CAUSALGEN_THREADS"))
        .or_else(|| from_env("RAYON_NUM_THREADS"))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Sets libtorch's intra-op thread count (see [`thread_count`]) and returns it.
pub fn set_threads(requested: Option<usize>) -> usize {
    let n = thread_count(requested);
    tch::set_num_threads(n as i32);
    n
}

/// Makes glibc's `malloc` keep the memory of freed tensors for the next ones instead of
/// handing it back to the system after every operation, for training loops.
///
/// libtorch allocates every CPU tensor with `posix_memalign`. By default glibc serves
/// large blocks with a fresh `mmap` (and returns them with `munmap` when freed) and
/// trims the heap top early, so each training step maps, page-faults (the kernel zeroes
/// every page) and unmaps its activations and gradients again: a quarter of the CPU
/// time of the causal VAE's step at 64 × 64. Here blocks up to 32 MiB (glibc's largest
/// threshold) come from the heap, and up to 1 GiB of free heap is kept (with 64 MiB of
/// padding per growth). The values computed are unchanged; only where memory comes
/// from. Done once per process; skipped when the user tunes malloc through `MALLOC_*`
/// or `GLIBC_TUNABLES` environment variables, and a no-op outside Linux with glibc.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::c_int;
        use std::sync::Once;

        extern "C" {
            fn mallopt(param: c_int, value: c_int) -> c_int;
        }
        // From glibc's <malloc.h>.
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_TOP_PAD: c_int = -2;
        const M_MMAP_THRESHOLD: c_int = -3;

        static TUNED: Once = Once::new();
        TUNED.call_once(|| {
            let user_tuned = std::env::vars_os().any(|(k, _)| {
                let k = k.to_string_lossy();
                k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES"
            });
            if user_tuned {
                return;
            }
            // SAFETY: mallopt only changes allocator parameters; it is thread-safe.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 32 << 20);
                mallopt(M_TRIM_THRESHOLD, 1 << 30);
                mallopt(M_TOP_PAD, 64 << 20);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_nonsense() {
        assert_eq!(parse_device("CPU").unwrap(), Device::Cpu);
        for bad in ["gpu", "cuda:x", "cuda:", "cudax"] {
            let err = parse_device(bad).unwrap_err().to_string();
            assert!(err.contains("unknown device"), "{bad}: {err}");
        }
    }

    #[test]
    fn auto_falls_back_to_cpu_without_a_gpu() {
        let device = parse_device("auto").unwrap();
        assert_eq!(device.is_cuda(), tch::Cuda::is_available());
    }

    #[test]
    fn explicit_thread_count_wins() {
        assert_eq!(thread_count(Some(3)), 3);
        assert!(thread_count(None) >= 1);
    }
}
