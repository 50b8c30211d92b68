//! Fetching packages from object stores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use sentinel_schema::{EvidencePackage, EvidencePackageRef};

use super::{verify_package, EvidenceStoreConfig, PackageError, TrustedKeys};

/// Fetches and verifies evidence packages. Cheap to clone; one per process.
#[derive(Clone)]
pub struct EvidenceStore {
    config: EvidenceStoreConfig,
    keys: TrustedKeys,
    buckets: Arc<Mutex<HashMap<String, Arc<dyn ObjectStore>>>>,
    local: Arc<dyn ObjectStore>,
}

impl EvidenceStore {
    /// A store from its configuration (keys are checked now).
    pub fn new(config: EvidenceStoreConfig) -> Result<Self, String> {
        let keys = TrustedKeys::from_base64(&config.trusted_keys)?;
        Ok(EvidenceStore {
            config,
            keys,
            buckets: Arc::new(Mutex::new(HashMap::new())),
            local: Arc::new(LocalFileSystem::new()),
        })
    }

    fn s3(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, PackageError> {
        if let Some(s) = self
            .buckets
            .lock()
            .ok()
            .and_then(|b| b.get(bucket).cloned())
        {
            return Ok(s);
        }
        let s3 = self.config.s3.as_ref().ok_or_else(|| {
            PackageError::Unavailable(
                "no [evidence_store.s3] is configured for s3:// packages".into(),
            )
        })?;
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&s3.region)
            .with_allow_http(s3.allow_http)
            .with_virtual_hosted_style_request(s3.virtual_hosted_style)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(timeout)
                    .with_connect_timeout(timeout)
                    .with_allow_http(s3.allow_http),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: self.config.retries,
                retry_timeout: timeout * (self.config.retries as u32 + 1) * 2,
            });
        if !s3.endpoint.is_empty() {
            b = b.with_endpoint(&s3.endpoint);
        }
        if !s3.access_key_id.is_empty() {
            b = b
                .with_access_key_id(&s3.access_key_id)
                .with_secret_access_key(&s3.secret_access_key);
        }
        let store: Arc<dyn ObjectStore> = Arc::new(
            b.build()
                .map_err(|e| PackageError::Unavailable(e.to_string()))?,
        );
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.insert(bucket.to_string(), store.clone());
        }
        Ok(store)
    }

    /// The store and path of a package URI.
    fn locate(&self, uri: &str) -> Result<(Arc<dyn ObjectStore>, StorePath), PackageError> {
        let url = url::Url::parse(uri)
            .map_err(|e| PackageError::Unavailable(format!("invalid package URI {uri:?}: {e}")))?;
        match url.scheme() {
            "s3" => {
                let bucket = url
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| PackageError::Unavailable(format!("no bucket in {uri:?}")))?;
                let key = url.path().trim_start_matches('/');
                let path = StorePath::from_url_path(key)
                    .map_err(|e| PackageError::Unavailable(e.to_string()))?;
                Ok((self.s3(bucket)?, path))
            }
            "file" => {
                let fs_path = url
                    .to_file_path()
                    .map_err(|_| PackageError::Unavailable(format!("invalid file URI {uri:?}")))?;
                let path = StorePath::from_absolute_path(&fs_path)
                    .map_err(|e| PackageError::Unavailable(e.to_string()))?;
                Ok((self.local.clone(), path))
            }
            other => Err(PackageError::Unavailable(format!(
                "unsupported package scheme {other:?} (s3 or file)"
            ))),
        }
    }

    /// Fetches the bytes of a package (with the configured timeouts and retries).
    pub async fn fetch(&self, uri: &str) -> Result<bytes::Bytes, PackageError> {
        let (store, path) = self.locate(uri)?;
        let overall =
            Duration::from_millis(self.config.timeout_ms) * (self.config.retries as u32 + 2) * 2;
        let get = async {
            let r = store
                .get(&path)
                .await
                .map_err(|e| PackageError::Unavailable(e.to_string()))?;
            if r.meta.size > self.config.max_package_bytes {
                return Err(PackageError::Invalid(format!(
                    "{} bytes exceeds the {} byte limit",
                    r.meta.size, self.config.max_package_bytes
                )));
            }
            r.bytes()
                .await
                .map_err(|e| PackageError::Unavailable(e.to_string()))
        };
        tokio::time::timeout(overall, get).await.map_err(|_| {
            PackageError::Unavailable(format!("timed out after {} ms", overall.as_millis()))
        })?
    }

    /// Fetches and verifies a package.
    pub async fn fetch_verified(
        &self,
        reference: &EvidencePackageRef,
    ) -> Result<EvidencePackage, PackageError> {
        let bytes = self.fetch(&reference.uri).await?;
        verify_package(
            &bytes,
            reference,
            &self.keys,
            self.config.require_signature,
            self.config.max_package_bytes,
        )
    }

    /// Writes bytes to a package URI (for producers, tools and tests).
    pub async fn put(&self, uri: &str, bytes: bytes::Bytes) -> Result<(), PackageError> {
        let (store, path) = self.locate(uri)?;
        store
            .put(&path, bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| PackageError::Unavailable(e.to_string()))
    }

    /// Maximum concurrent fetches.
    pub fn concurrency(&self) -> usize {
        self.config.concurrency.max(1)
    }
}
