//! The TLS side of OTLP export: the certificate files of the `OTEL_EXPORTER_OTLP_*CERTIFICATE`
//! and `*CLIENT_KEY` variables, read and checked at setup (a missing or malformed file is a
//! [`SetupError`] naming its variable, not a dead exporter), and turned into the client
//! configurations of the HTTP and gRPC transports: rustls with ring, the Mozilla roots of
//! `webpki-roots` plus the CA file given.

use crate::error::SetupError;
use crate::telemetry::otlp_config::TlsFiles;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The certificates of one signal's export, read and parsed.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The extra CA certificates, as PEM (for tonic) and parsed (for rustls).
    ca: Option<(Vec<u8>, Vec<CertificateDer<'static>>)>,
    /// The client certificate chain and key, as PEM and parsed.
    client: Option<ClientIdentity>,
    /// Where they came from, for errors.
    files: TlsFiles,
}

#[derive(Debug)]
#[cfg_attr(not(feature = "otlp-grpc"), allow(dead_code, reason = "the PEM is what tonic takes"))]
struct ClientIdentity {
    certificate_pem: Vec<u8>,
    key_pem: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn file_error(var: &'static str, path: &Path, reason: impl std::fmt::Display) -> SetupError {
    SetupError::TlsFile { var, path: path.to_owned(), reason: reason.to_string() }
}

fn read(var: &'static str, path: &Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|error| file_error(var, path, error))
}

fn certificates(var: &'static str, path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(var, path, format!("not PEM certificates: {error}")))?;
    if certificates.is_empty() {
        return Err(file_error(var, path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certificates)
}

impl TlsMaterial {
    /// Reads and parses the files of `files`.
    pub fn load(files: &TlsFiles) -> Result<Self, SetupError> {
        let ca = match &files.ca {
            Some(ca) => {
                let pem = read(ca.var, &ca.path)?;
                let parsed = certificates(ca.var, &ca.path, &pem)?;
                Some((pem, parsed))
            }
            None => None,
        };
        let client = match &files.client {
            Some((certificate, key)) => {
                let certificate_pem = read(certificate.var, &certificate.path)?;
                let chain = certificates(certificate.var, &certificate.path, &certificate_pem)?;
                let key_pem = read(key.var, &key.path)?;
                let parsed_key = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|error| file_error(key.var, &key.path, format!("not a PEM private key: {error}")))?;
                Some(ClientIdentity { certificate_pem, key_pem, chain, key: parsed_key })
            }
            None => None,
        };
        let material = TlsMaterial { ca, client, files: files.clone() };
        // Built once now, so a key that does not go with its certificate fails setup.
        material.rustls_config()?;
        Ok(material)
    }

    /// The client configuration of the HTTP transport.
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, SetupError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let (Some((_, certificates)), Some(ca)) = (&self.ca, &self.files.ca) {
            for certificate in certificates {
                roots.add(certificate.clone()).map_err(|error| file_error(ca.var, &ca.path, error))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| file_error("OTEL_EXPORTER_OTLP_CERTIFICATE", Path::new(""), error))?
            .with_root_certificates(roots);
        match (&self.client, &self.files.client) {
            (Some(identity), Some((certificate, _))) => {
                builder.with_client_auth_cert(identity.chain.clone(), identity.key.clone_key()).map_err(|error| {
                    file_error(certificate.var, &certificate.path, format!("does not go with its key: {error}"))
                })
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }

    /// The client configuration of the gRPC transport (the Mozilla roots plus the CA file).
    #[cfg(feature = "otlp-grpc")]
    pub fn tonic_config(&self) -> tonic::transport::ClientTlsConfig {
        let mut config = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some((pem, _)) = &self.ca {
            config = config.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        if let Some(identity) = &self.client {
            config =
                config.identity(tonic::transport::Identity::from_pem(&identity.certificate_pem, &identity.key_pem));
        }
        config
    }
}
