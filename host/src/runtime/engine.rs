//! The one `Engine`: Cranelift, component model, epoch interruption, and the
//! pooling allocator where the OS grants its address-space reservation.

use sha2::{Digest, Sha256};
use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of deadlines, and how often
/// a busy guest yields its thread back to Tokio.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Concurrent instances the pool holds; calls beyond it fail with a clear
/// instantiation error instead of exhausting memory.
const POOL_COMPONENT_INSTANCES: u32 = 1000;

/// Linear memory a pool slot keeps resident between calls: enough for a
/// typical mapping call (a 1,000-variation Square page dirties about 4 MiB),
/// bounded so idle slots do not hold much memory.
const KEEP_RESIDENT_MEMORY: usize = 8 << 20;

/// Table memory a pool slot keeps resident (adapter tables are a few KiB).
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

pub(crate) struct BuiltEngine {
    pub(crate) engine: Engine,
    pub(crate) pooling: bool,
}

pub(crate) fn build(max_memory_bytes: usize) -> anyhow::Result<BuiltEngine> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_COMPONENT_INSTANCES)
        .total_core_instances(4 * POOL_COMPONENT_INSTANCES)
        .total_memories(POOL_COMPONENT_INSTANCES)
        .total_tables(2 * POOL_COMPONENT_INSTANCES)
        .total_stacks(POOL_COMPONENT_INSTANCES)
        .max_memory_size(max_memory_bytes)
        // A finished call's memory is reset in place rather than handed back
        // to the OS: only the pages it dirtied (found with Linux's
        // PAGEMAP_SCAN where available) are zeroed or restored, so the next
        // call on the slot takes no page faults. Up to this much per slot
        // stays resident; the rest is released as before.
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(BuiltEngine {
            engine,
            pooling: true,
        }),
        Err(e) => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "the OS refused the pooling allocator's reservation; using on-demand instance allocation (slower instantiation)"
            );
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            let engine = Engine::new(&config)
                .map_err(|e| anyhow::anyhow!("failed to create the Wasm engine: {e:#}"))?;
            Ok(BuiltEngine {
                engine,
                pooling: false,
            })
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        // Cranelift's inlining (`compiler_inlining`) would cut a Rust
        // guest's instructions by about 7% but doubles compile time, which
        // Python and JavaScript components (50 s and more) cannot afford:
        // off; BENCHMARKS.md has both measurements.
        .parallel_compilation(true);
    config
}

/// A stable hex digest of the engine's compatibility hash, for cache keys:
/// two hosts with the same value can share compiled code.
pub(crate) fn compatibility_key(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

/// Feeds `Hash` input to sha256, which, unlike `DefaultHasher`, is the same
/// in every Rust release.
struct ShaHasher(Sha256);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on its own thread, which
/// ends once the engine is gone.
pub(crate) fn start_epoch_ticker(engine: &Engine) -> anyhow::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| anyhow::anyhow!("failed to start the epoch ticker thread: {e}"))?;
    Ok(())
}
