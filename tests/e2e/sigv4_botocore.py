#!/usr/bin/python3
"""cdc-writer's SigV4 signer against botocore's (Debian's python3-botocore),
byte for byte, on generated S3 requests: keys with '=', spaces, '+', '~',
'ü', '%', several query parameters with empty values, empty and non-empty
bodies, session tokens. Usage: sigv4_botocore.py /path/to/sigv4_tool"""
import hashlib
import json
import random
import subprocess
import sys
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY_PARTS = ["cdc_events", "year=2026", "month=11", "a b", "x+y", "t~z", "m\u00fcnchen", "100%",
             "day=24", "file.parquet", "k=v&w", "(paren)", "star*", "\u6771\u4eac", "comma,semi;"]
PARAM_NAMES = ["prefix", "list-type", "continuation-token", "uploads", "partNumber", "uploadId",
               "max-keys", "delimiter", "start-after"]
VALUES = ["", "2", "cdc_events/a b/", "x+y/z=", "\u00fc~%", "1000", "abc"]


def case(rng, n):
    bucket = rng.choice(["datalake", "my.lake-1", "b"])
    key = "/".join(rng.choice(KEY_PARTS) for _ in range(rng.randint(1, 5)))
    params = [[rng.choice(PARAM_NAMES), rng.choice(VALUES)] for _ in range(rng.randint(0, 4))]
    dedup = {}
    for name, value in params:
        dedup[name] = value
    params = [[k, v] for k, v in dedup.items()]
    body = rng.choice(["", "hello", "x" * 1000, "\u00fc" * 10])
    method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
    token = rng.choice([None, "FQoGZXIvYXdzEJr//////////token+with/odd=chars"])
    return {
        "n": n, "bucket": bucket, "key": key, "params": params, "body": body, "method": method,
        "token": token, "host": rng.choice(["minio:9000", "127.0.0.1:4568", "s3.amazonaws.com"]),
        "region": rng.choice(["us-east-1", "eu-central-1"]),
        "amz_date": "2026%02d%02dT%02d%02d%02dZ" % (rng.randint(1, 12), rng.randint(1, 28),
                                                     rng.randint(0, 23), rng.randint(0, 59),
                                                     rng.randint(0, 59)),
    }


def botocore_authorization(c):
    path = "/" + c["bucket"] + "/" + c["key"]
    url = "https://" + c["host"] + quote(path, safe="/~")
    body = c["body"].encode()
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {"x-amz-date": c["amz_date"], "x-amz-content-sha256": payload_hash}
    if c["token"]:
        headers["x-amz-security-token"] = c["token"]
    request = AWSRequest(method=c["method"], url=url, data=body, headers=headers,
                         params={k: v for k, v in c["params"]})
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", c["token"])
    auth = S3SigV4Auth(creds, "s3", c["region"])
    request.context["timestamp"] = c["amz_date"]
    # The steps of add_auth, with the request's own fixed date.
    request.headers["host"] = c["host"]
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    signature = auth.signature(string_to_sign, request)
    signed = auth.signed_headers(auth.headers_to_sign(request))
    scope = auth.credential_scope(request)
    return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%s, SignedHeaders=%s, Signature=%s" % (
        scope, signed, signature)


def ours(cases, tool):
    lines = []
    for c in cases:
        payload_hash = hashlib.sha256(c["body"].encode()).hexdigest()
        headers = [["host", c["host"]], ["x-amz-date", c["amz_date"]],
                   ["x-amz-content-sha256", payload_hash]]
        if c["token"]:
            headers.append(["x-amz-security-token", c["token"]])
        lines.append(json.dumps({
            "method": c["method"], "path": "/" + c["bucket"] + "/" + c["key"], "params": c["params"],
            "headers": headers, "body": c["body"], "amz_date": c["amz_date"], "region": c["region"],
            "service": "s3", "access_key": "AKIDEXAMPLE",
            "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}))
    out = subprocess.run([tool], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True)
    return out.stdout.splitlines()


def main():
    rng = random.Random(20261124)
    cases = [case(rng, n) for n in range(500)]
    got = ours(cases, sys.argv[1])
    passed = failed = 0
    for c, mine in zip(cases, got):
        theirs = botocore_authorization(c)
        if mine == theirs:
            passed += 1
        else:
            failed += 1
            if failed <= 3:
                print("MISMATCH case %d: %r\n  ours     %s\n  botocore %s" % (c["n"], c, mine, theirs))
    if len(got) != len(cases):
        failed += len(cases) - len(got)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
