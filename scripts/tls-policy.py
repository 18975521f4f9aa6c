"""Judges an sslyze JSON scan of the gateway against the NCSC-NL TLS guidelines (v2.1, 2021).

Fails (exit 1) on any protocol older than TLS 1.2, on TLS 1.2 suites not rated "good" (ECDHE
with AES-GCM or ChaCha20-Poly1305 and SHA-256/384), on TLS 1.3 suites outside the three standard
AEAD suites, on curves outside X25519/X448/P-256/P-384, and on compression, 0-RTT early data,
client-initiated renegotiation, Heartbleed or CCS injection.
"""
import json
import sys

GOOD_TLS13 = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
GOOD_CURVES = {"X25519", "X448", "secp256r1", "secp384r1"}


def good_tls12(name):
    return name.startswith("TLS_ECDHE_") and ("_GCM_SHA" in name or "CHACHA20_POLY1305_SHA256" in name) \
        and (name.endswith("SHA256") or name.endswith("SHA384"))


def judge(result):
    problems, lines = [], []

    def accepted(key):
        entry = result[key]
        if entry["status"] != "COMPLETED":
            problems.append(f"{key}: scan did not complete ({entry['status']})")
            return []
        return [s["cipher_suite"]["name"] for s in entry["result"]["accepted_cipher_suites"]]

    for key in ["ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites"]:
        suites = accepted(key)
        lines.append(f"{key.replace('_cipher_suites', '')}: {'ACCEPTED' if suites else 'refused'}")
        if suites:
            problems.append(f"{key}: accepted {suites}")
    tls12 = accepted("tls_1_2_cipher_suites")
    lines.append(f"tls_1_2: {', '.join(tls12) if tls12 else 'refused'}")
    problems += [f"TLS 1.2 suite not rated good: {s}" for s in tls12 if not good_tls12(s)]
    tls13 = accepted("tls_1_3_cipher_suites")
    lines.append(f"tls_1_3: {', '.join(tls13) if tls13 else 'refused'}")
    if not tls13:
        problems.append("TLS 1.3 not offered")
    problems += [f"TLS 1.3 suite not rated good: {s}" for s in tls13 if s not in GOOD_TLS13]
    curves = [c["name"] for c in result["elliptic_curves"]["result"]["supported_curves"]]
    lines.append(f"curves: {', '.join(curves)}")
    problems += [f"curve not rated good: {c}" for c in curves if c not in GOOD_CURVES]
    flags = {
        "compression": result["tls_compression"]["result"]["supports_compression"],
        "0-RTT early data": result["tls_1_3_early_data"]["result"]["supports_early_data"],
        "client renegotiation": result["session_renegotiation"]["result"]["is_vulnerable_to_client_renegotiation_dos"]
        or result["session_renegotiation"]["result"]["client_renegotiations_success_count"] > 0,
        "heartbleed": result["heartbleed"]["result"]["is_vulnerable_to_heartbleed"],
        "CCS injection": result["openssl_ccs_injection"]["result"]["is_vulnerable_to_ccs_injection"],
    }
    lines.append("off: " + ", ".join(name for name, on in flags.items() if not on))
    problems += [f"{name} is on" for name, on in flags.items() if on]
    return problems, lines


if __name__ == "__main__":
    scan = json.load(open(sys.argv[1]))
    problems, lines = judge(scan["server_scan_results"][0]["scan_result"])
    for line in lines:
        print("  " + line)
    for problem in problems:
        print("  FAIL: " + problem)
    sys.exit(1 if problems else 0)
