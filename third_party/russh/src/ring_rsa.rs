//! RSA with ring when the `rsa` feature (the `rsa` crate) is off: `rsa-sha2-256` and
//! `rsa-sha2-512` signatures are checked and made with ring; SHA-1 `ssh-rsa` is refused.
//! This covers the server's host-key signature the client checks during kex, the host-key
//! signature a server makes, and user-auth signatures a server checks.

use ring::rsa::KeyPairComponents;
use ring::signature::{self as ring_sig, RsaKeyPair, RsaPublicKeyComponents};
use ssh_key::{Algorithm, HashAlg, Mpint, Signature};

/// Verifies `sig` over `data` by the RSA public key `key`.
pub(crate) fn verify(key: &ssh_key::public::RsaPublicKey, data: &[u8], sig: &Signature) -> bool {
    let params = match sig.algorithm() {
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        } => &ring_sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha256),
        } => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
        _ => return false,
    };
    let (Some(n), Some(e)) = (key.n().as_positive_bytes(), key.e().as_positive_bytes()) else {
        return false;
    };
    RsaPublicKeyComponents { n, e }
        .verify(params, data, sig.as_bytes())
        .is_ok()
}

/// Signs `data` with `key` as `rsa-sha2-256` or `rsa-sha2-512` (`hash`).
pub(crate) fn sign(
    key: &ssh_key::private::RsaKeypair,
    hash: Option<HashAlg>,
    data: &[u8],
) -> ssh_key::Result<Signature> {
    let algorithm = Algorithm::Rsa { hash };
    let padding = match hash {
        Some(HashAlg::Sha512) => &ring_sig::RSA_PKCS1_SHA512,
        Some(HashAlg::Sha256) => &ring_sig::RSA_PKCS1_SHA256,
        _ => return Err(ssh_key::Error::AlgorithmUnsupported { algorithm }),
    };
    let private = key.private();
    let (d, p, q) = (
        bytes(private.d())?,
        bytes(private.p())?,
        bytes(private.q())?,
    );
    // OpenSSH keys carry (d, p, q, iqmp); ring wants the CRT exponents d mod (p-1) and
    // d mod (q-1) too. p and q are odd primes, so p-1 is p with its lowest bit cleared.
    let minus_one = |x: &[u8]| {
        let mut x = x.to_vec();
        if let Some(last) = x.last_mut() {
            *last &= 0xfe;
        }
        x
    };
    let pair = RsaKeyPair::from_components(&KeyPairComponents {
        public_key: RsaPublicKeyComponents {
            n: bytes(key.public().n())?,
            e: bytes(key.public().e())?,
        },
        d,
        p,
        q,
        dP: &rem(d, &minus_one(p))[..],
        dQ: &rem(d, &minus_one(q))[..],
        qInv: bytes(private.iqmp())?,
    })
    .map_err(|_| ssh_key::Error::Crypto)?;
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        data,
        &mut signature,
    )
    .map_err(|_| ssh_key::Error::Crypto)?;
    Signature::new(algorithm, signature)
}

fn bytes(m: &Mpint) -> ssh_key::Result<&[u8]> {
    m.as_positive_bytes().ok_or(ssh_key::Error::Crypto)
}

/// `a mod m` for big-endian unsigned integers, bit by bit over 64-bit limbs (little-endian
/// in memory); big-endian bytes without leading zeros come out. Only derives the two CRT
/// exponents above, so simplicity beats speed.
fn rem(a: &[u8], m: &[u8]) -> Vec<u8> {
    let m: Vec<u64> = m
        .rchunks(8)
        .map(|c| c.iter().fold(0, |acc, b| acc << 8 | u64::from(*b)))
        .collect();
    let mut r = vec![0u64; m.len() + 1];
    for byte in a {
        for bit in (0..8).rev() {
            let mut carry = u64::from(byte >> bit & 1);
            for limb in r.iter_mut() {
                let top = *limb >> 63;
                *limb = *limb << 1 | carry;
                carry = top;
            }
            let below = r
                .iter()
                .enumerate()
                .rev()
                .map(|(i, limb)| (*limb, m.get(i).copied().unwrap_or(0)))
                .find(|(x, y)| x != y)
                .is_some_and(|(x, y)| x < y);
            if !below {
                let mut borrow = false;
                for (i, limb) in r.iter_mut().enumerate() {
                    let (v, b1) = limb.overflowing_sub(m.get(i).copied().unwrap_or(0));
                    let (v, b2) = v.overflowing_sub(u64::from(borrow));
                    *limb = v;
                    borrow = b1 || b2;
                }
            }
        }
    }
    let bytes: Vec<u8> = r.iter().rev().flat_map(|limb| limb.to_be_bytes()).collect();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    bytes[first..].to_vec()
}

#[cfg(test)]
mod test {
    #[test]
    fn rem_matches_small_numbers() {
        let cases: [(u128, u128); 4] = [(0, 7), (6, 7), (1 << 100, 0xffff_ffff_1), (u128::MAX, 3)];
        for (a, m) in cases {
            let got = super::rem(&a.to_be_bytes(), &m.to_be_bytes()[8..]);
            let want = (a % m).to_be_bytes();
            let first = want.iter().position(|b| *b != 0).unwrap_or(15);
            assert_eq!(got, want[first..].to_vec(), "{a} mod {m}");
        }
    }
}
