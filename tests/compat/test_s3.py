"""S3 compatibility: the object store driven by boto3, the AWS CLI and
plain HTTP (aws-chunked uploads, presigned URLs, virtual-host style).

Covers bucket and object CRUD, ranges, metadata, copy, listing with
delimiters and pagination, multipart (boto3 upload_file and `aws s3 cp` of a
file past the 8 MiB multipart threshold), multipart copies (UploadPartCopy,
from boto3's `copy` and `aws s3 cp s3://... s3://...`), object tagging,
presigned GET/PUT URLs, `aws s3 sync`, error shapes, restart durability,
and bucket notifications to a function and a queue.
The report test measures PutObject/GetObject/UploadPartCopy of 100 MiB against `dd`.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from conftest import ROOT, create, unique, wait_for

AWS = os.path.join(os.path.dirname(sys.executable), "aws")
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def new_bucket(s3, prefix="bkt"):
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def error_of(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status_of(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def aws(server, *args, check=True, env=None):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1", **(env or {})}
    proc = subprocess.run([AWS, "--endpoint-url", server.endpoint, *args], env=env,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {proc.stderr}")
    return proc


# ---- buckets

def test_bucket_lifecycle(s3):
    name = new_bucket(s3)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_of(e) == "BucketAlreadyOwnedByYou" and status_of(e) == 409
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e) == "BucketNotEmpty" and status_of(e) == 409
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert status_of(e) == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert error_of(e) == "NoSuchBucket"


def test_location_constraint_is_kept(s3):
    name = f"loc-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"


@pytest.mark.parametrize("bad", ["ab", "UpperCase", "under_score", "-dash", "dots..dots", "192.168.0.1", "x" * 64])
def test_invalid_bucket_names(server, bad):
    # boto3 validates some names itself; plain signed-looking HTTP reaches the server.
    req = urllib.request.Request(f"{server.endpoint}/{bad}", method="PUT", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400
    body = ET.fromstring(e.value.read())
    assert body.find("Code").text == "InvalidBucketName"
    assert body.find("RequestId").text


# ---- objects

def test_put_get_head_delete_with_metadata(s3):
    b = new_bucket(s3)
    body = os.urandom(3000)
    put = s3.put_object(Bucket=b, Key="dir/my file+1.bin", Body=body, ContentType="application/x-test",
                        Metadata={"colour": "blue", "Owner": "me"}, CacheControl="max-age=60",
                        ContentDisposition="attachment")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=b, Key="dir/my file+1.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"colour": "blue", "owner": "me"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "attachment"
    assert got["ContentLength"] == 3000 and got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=b, Key="dir/my file+1.bin")
    assert head["ContentLength"] == 3000 and head["Metadata"]["colour"] == "blue"
    s3.delete_object(Bucket=b, Key="dir/my file+1.bin")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="dir/my file+1.bin")
    assert error_of(e) == "NoSuchKey" and status_of(e) == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=b, Key="dir/my file+1.bin")
    assert status_of(e) == 404
    s3.delete_object(Bucket=b, Key="never-existed")  # S3 answers 204 either way


def test_overwrite_and_empty_object(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"first")
    s3.put_object(Bucket=b, Key="k", Body=b"second!")
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"second!"
    s3.put_object(Bucket=b, Key="empty", Body=b"")
    got = s3.get_object(Bucket=b, Key="empty")
    assert got["Body"].read() == b"" and got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_ranges(s3):
    b = new_bucket(s3)
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=b, Key="r", Body=body)
    got = s3.get_object(Bucket=b, Key="r", Range="bytes=10-19")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 10-19/1024" and got["Body"].read() == body[10:20]
    assert s3.get_object(Bucket=b, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=b, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="r", Range="bytes=5000-")
    assert error_of(e) == "InvalidRange" and status_of(e) == 416


def test_conditional_gets(s3):
    b = new_bucket(s3)
    etag = s3.put_object(Bucket=b, Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=b, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c", IfMatch='"nope"')
    assert status_of(e) == 412
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="c", IfNoneMatch=etag)
    assert status_of(e) == 304


def test_bad_md5_is_rejected_and_nothing_is_written(s3):
    import base64
    b = new_bucket(s3)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=b"payload", ContentMD5=wrong)
    assert error_of(e) == "BadDigest" and status_of(e) == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=b"payload", ContentMD5="not-base64!")
    assert error_of(e) == "InvalidDigest"
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=b, Key="good", Body=b"payload", ContentMD5=right)


def test_error_before_the_body_closes_the_connection(server, s3):
    """botocore sends `Expect: 100-continue` on PutObject and, when no answer
    comes within a second (a loaded machine), sends the body anyway: a
    rejected request's body must never be read as the next request."""
    import socket
    b = new_bucket(s3)
    auth = "Authorization: AWS4-HMAC-SHA256 Credential=x/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"PUT /{b}/k HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nContent-Length: 7\r\n"
            "Content-MD5: not-base64!\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 400"), head
        assert b"connection: close" in head.lower(), head
        # The late body and a next request on the same connection: the server
        # has closed it, so neither is parsed.
        sock.sendall(b"payload" + f"GET /{b}?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n\r\n".encode())
        rest = b""
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except ConnectionResetError:
            pass
        assert b"HTTP/1.1 400" not in rest.split(b"\r\n\r\n", 1)[-1], rest
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_checksums_are_verified_and_returned(s3):
    b = new_bucket(s3)
    put = s3.put_object(Bucket=b, Key="c", Body=b"hello world", ChecksumAlgorithm="CRC32")
    assert put["ChecksumCRC32"] == "DUoRhQ=="
    got = s3.get_object(Bucket=b, Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == "DUoRhQ==" and got["Body"].read() == b"hello world"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="c2", Body=b"hello world", ChecksumCRC32="AAAAAA==")
    assert error_of(e) == "BadDigest"


@pytest.mark.parametrize("header,check", [("x-amz-checksum-crc32c", 0xE3069283),
                                          ("x-amz-checksum-crc64nvme", 0xAE8B14860A799888)])
def test_crc32c_and_crc64nvme_are_verified(server, s3, header, check):
    """The catalogue's check values (CRC of b"123456789"), sent the way SDKs
    with the CRT send them; boto3 without awscrt cannot compute these two."""
    import base64
    b = new_bucket(s3)
    width = 4 if header.endswith("crc32c") else 8
    good = base64.b64encode(check.to_bytes(width, "big")).decode()
    req = urllib.request.Request(f"{server.endpoint}/{b}/c", data=b"123456789", method="PUT",
                                 headers=signed_headers({header: good}))
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and r.headers[header] == good
    got = s3.get_object(Bucket=b, Key="c", ChecksumMode="ENABLED")
    assert got["ResponseMetadata"]["HTTPHeaders"][header] == good
    bad = base64.b64encode((check ^ 1).to_bytes(width, "big")).decode()
    req = urllib.request.Request(f"{server.endpoint}/{b}/c2", data=b"123456789", method="PUT",
                                 headers=signed_headers({header: bad}))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400 and ET.fromstring(e.value.read()).find("Code").text == "BadDigest"


def signed_headers(extra=None):
    h = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host, Signature=x"}
    h.update(extra or {})
    return h


def test_aws_chunked_upload_with_trailer(server, s3):
    """What the AWS CLI v2 and new SDKs send over TLS: aws-chunked with a CRC32 trailer."""
    b = new_bucket(s3)
    payload = b"hello world" * 1000
    chunks = [payload[:7000], payload[7000:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    body += b"0\r\nx-amz-checksum-crc32:" + crc32_b64(payload).encode() + b"\r\n\r\n"
    req = urllib.request.Request(f"{server.endpoint}/{b}/chunked", data=body, method="PUT", headers=signed_headers({
        "Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(payload)), "x-amz-trailer": "x-amz-checksum-crc32",
        "Content-Type": "text/plain"}))
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        assert r.headers["ETag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    got = s3.get_object(Bucket=b, Key="chunked")
    assert got["Body"].read() == payload
    assert got.get("ContentEncoding") is None and got["ContentType"] == "text/plain"
    bad = body.replace(crc32_b64(payload).encode(), b"AAAAAA==")
    req = urllib.request.Request(f"{server.endpoint}/{b}/chunked-bad", data=bad, method="PUT",
                                 headers=signed_headers({"Content-Encoding": "aws-chunked",
                                                         "x-amz-trailer": "x-amz-checksum-crc32"}))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 400 and b"BadDigest" in e.value.read()


def crc32_b64(data):
    import base64
    import zlib
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_copy_object_and_metadata_directive(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="src", Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"})
    other = new_bucket(s3)
    res = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    assert res["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"a": "1"} and got["ContentType"] == "text/plain"
    s3.copy_object(Bucket=b, Key="src", CopySource=f"{b}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/json")
    got = s3.get_object(Bucket=b, Key="src")
    assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "application/json"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="src", CopySource=f"{b}/src")
    assert error_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="x", CopySource=f"{b}/missing")
    assert error_of(e) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="x", CopySource=f"{b}/src", CopySourceIfMatch='"not-the-etag"')
    assert error_of(e) == "PreconditionFailed" and status_of(e) == 412
    # The source's later deletion does not affect the copy.
    s3.delete_object(Bucket=b, Key="src")
    assert s3.get_object(Bucket=other, Key="dst")["Body"].read() == b"copy me"


def test_delete_objects(s3):
    b = new_bucket(s3)
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=b, Key=k, Body=k.encode())
    res = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zzz"}]})
    assert sorted(d["Key"] for d in res["Deleted"]) == ["a", "b", "zzz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["c"]
    res = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in res and s3.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_malformed_xml(server, s3):
    b = new_bucket(s3)
    for body in [b"<Delete><Object><Key>a</Key>", b"not xml at all", b"<Delete></Delete>"]:
        req = urllib.request.Request(f"{server.endpoint}/{b}?delete", data=body, method="POST",
                                     headers=signed_headers())
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 400
        assert ET.fromstring(e.value.read()).find("Code").text == "MalformedXML"


# ---- listing

def test_listing_with_delimiter_prefix_and_pagination(s3):
    b = new_bucket(s3)
    keys = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z", "sp ace+plus"]
    for k in keys:
        s3.put_object(Bucket=b, Key=k, Body=b"x")
    res = s3.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in res["Contents"]] == sorted(keys) and res["KeyCount"] == len(keys)
    res = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [o["Key"] for o in res["Contents"]] == ["a.txt", "sp ace+plus", "z"]
    assert [p["Prefix"] for p in res["CommonPrefixes"]] == ["dir/", "other/"]
    res = s3.list_objects_v2(Bucket=b, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in res["Contents"]] == ["dir/1", "dir/2"]
    assert [p["Prefix"] for p in res["CommonPrefixes"]] == ["dir/sub/"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b, StartAfter="sp")["Contents"]] == ["sp ace+plus", "z"]
    # Paginate two at a time, with and without a delimiter.
    for delimiter in ["", "/"]:
        seen = []
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=b, Delimiter=delimiter,
                                                             PaginationConfig={"PageSize": 2})
        for page in pages:
            assert page["KeyCount"] <= 2
            seen += [o["Key"] for o in page.get("Contents", [])]
            seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        expected = sorted(keys) if not delimiter else ["a.txt", "dir/", "other/", "sp ace+plus", "z"]
        assert sorted(seen) == expected, delimiter
    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 3})
          for o in page["Contents"]]
    assert v1 == sorted(keys)


# ---- multipart

def test_multipart_by_hand(s3):
    b = new_bucket(s3)
    up = s3.create_multipart_upload(Bucket=b, Key="big", ContentType="application/x-big", Metadata={"m": "1"})
    uid = up["UploadId"]
    p1, p2 = os.urandom(5 * MiB), os.urandom(1234)
    e1 = s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]] == [uid]
    parts = s3.list_parts(Bucket=b, Key="big", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MiB), (2, 1234)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert error_of(e) == "InvalidPartOrder"
    done = s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    md5s = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest()
    assert done["ETag"] == f'"{md5s}-2"'
    got = s3.get_object(Bucket=b, Key="big")
    assert got["Body"].read() == p1 + p2 and got["ContentType"] == "application/x-big" and got["Metadata"] == {"m": "1"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket=b, Key="big", UploadId=uid)
    assert error_of(e) == "NoSuchUpload"
    up = s3.create_multipart_upload(Bucket=b, Key="gone")
    s3.upload_part(Bucket=b, Key="gone", UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=b, Key="gone", UploadId=up["UploadId"])
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=b, Key="gone", UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    assert error_of(e) == "NoSuchUpload"


def test_upload_file_and_download_file(s3, tmp_path):
    from boto3.s3.transfer import TransferConfig
    b = new_bucket(s3)
    src = tmp_path / "src.bin"
    data = os.urandom(20 * MiB + 17)
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(src), b, "up/src.bin", Config=config)
    head = s3.head_object(Bucket=b, Key="up/src.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    dst = tmp_path / "dst.bin"
    s3.download_file(b, "up/src.bin", str(dst), Config=config)
    assert dst.read_bytes() == data


# ---- multipart copies (UploadPartCopy)

def small_parts():
    from boto3.s3.transfer import TransferConfig
    return TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)


def multipart_etag(data, part_size):
    md5s = b"".join(hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size))
    return f'"{hashlib.md5(md5s).hexdigest()}-{(len(data) + part_size - 1) // part_size}"'


def test_boto3_copy_uses_upload_part_copy(s3):
    src, dst = new_bucket(s3), new_bucket(s3)
    data = os.urandom(12 * MiB + 5)
    s3.put_object(Bucket=src, Key="big src", Body=data)
    copied_parts = []
    s3.meta.events.register("after-call.s3.UploadPartCopy", lambda **kw: copied_parts.append(kw["parsed"]))
    try:
        s3.copy({"Bucket": src, "Key": "big src"}, dst, "big/copy", Config=small_parts())
    finally:
        s3.meta.events.unregister("after-call.s3.UploadPartCopy")
    assert len(copied_parts) == 3
    assert all(p["CopyPartResult"]["ETag"].startswith('"') and p["CopyPartResult"]["LastModified"]
               for p in copied_parts)
    got = s3.get_object(Bucket=dst, Key="big/copy")
    assert got["Body"].read() == data
    assert got["ETag"] == multipart_etag(data, 5 * MiB) and got["ETag"].endswith('-3"')


def test_upload_part_copy_by_hand_with_ranges(s3):
    b = new_bucket(s3)
    data = os.urandom(11 * MiB)
    s3.put_object(Bucket=b, Key="src", Body=data)
    uid = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    first = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=1, CopySource=f"{b}/src",
                                CopySourceRange=f"bytes=0-{6 * MiB - 1}")["CopyPartResult"]
    assert first["ETag"] == f'"{hashlib.md5(data[:6 * MiB]).hexdigest()}"'
    # The whole source (no range), then an uploaded tail: parts can mix.
    whole = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=2,
                                CopySource={"Bucket": b, "Key": "src"})["CopyPartResult"]
    tail = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=3, CopySource=f"/{b}/src",
                               CopySourceRange=f"bytes={len(data) - 10}-{len(data) - 1}")["CopyPartResult"]
    parts = s3.list_parts(Bucket=b, Key="dst", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 6 * MiB), (2, len(data)), (3, 10)]
    done = s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": whole["ETag"]},
        {"PartNumber": 3, "ETag": tail["ETag"]}]})
    assert done["ETag"].endswith('-3"')
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == data[:6 * MiB] + data + data[-10:]


def test_upload_part_copy_errors(s3):
    b = new_bucket(s3)
    etag = s3.put_object(Bucket=b, Key="src", Body=b"0123456789")["ETag"]
    uid = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]

    def copy_part(**kw):
        args = {"Bucket": b, "Key": "dst", "UploadId": uid, "PartNumber": 1, "CopySource": f"{b}/src", **kw}
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.upload_part_copy(**args)
        return error_of(e), status_of(e)

    for bad in ["0-5", "bytes=5-", "bytes=-3", "bytes=a-b", "bytes=0-1,3-4", "bytes=5-2", ""]:
        assert copy_part(CopySourceRange=bad) == ("InvalidArgument", 400), bad
    assert copy_part(CopySourceRange="bytes=0-10") == ("InvalidRange", 416)
    assert copy_part(CopySource=f"{b}/missing") == ("NoSuchKey", 404)
    assert copy_part(CopySource="no-such-bucket-here/src") == ("NoSuchBucket", 404)
    assert copy_part(UploadId="nope") == ("NoSuchUpload", 404)
    assert copy_part(PartNumber=10001) == ("InvalidArgument", 400)
    assert copy_part(CopySourceIfMatch='"nope"') == ("PreconditionFailed", 412)
    assert copy_part(CopySourceIfNoneMatch=etag) == ("PreconditionFailed", 412)
    ok = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=uid, PartNumber=1, CopySource=f"{b}/src",
                             CopySourceRange="bytes=2-4", CopySourceIfMatch=etag)["CopyPartResult"]
    assert ok["ETag"] == f'"{hashlib.md5(b"234").hexdigest()}"'
    # The failed attempts left no part behind.
    assert [p["Size"] for p in s3.list_parts(Bucket=b, Key="dst", UploadId=uid)["Parts"]] == [3]


def test_aws_cli_copies_between_buckets_with_upload_part_copy(server, s3, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text("[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n")
    a, b = new_bucket(s3, "cli-a"), new_bucket(s3, "cli-b")
    data = os.urandom(11 * MiB)
    s3.put_object(Bucket=a, Key="big", Body=data)
    out = aws(server, "s3", "cp", f"s3://{a}/big", f"s3://{b}/big", "--debug",
              env={"AWS_CONFIG_FILE": str(config)}).stderr
    assert out.count("Making request for OperationModel(name=UploadPartCopy)") == 3, "the CLI did not copy in parts"
    got = s3.get_object(Bucket=b, Key="big")
    assert got["Body"].read() == data
    assert got["ETag"] == multipart_etag(data, 5 * MiB) and got["ETag"].endswith('-3"')


# ---- tagging

def tag_dict(s3, bucket, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_object_tagging(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="t", Body=b"x", Tagging="colour=blue&two%20words=a%2Bb&empty")
    assert tag_dict(s3, b, "t") == {"colour": "blue", "two words": "a+b", "empty": ""}
    assert s3.head_object(Bucket=b, Key="t")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"
    assert s3.get_object(Bucket=b, Key="t")["TagCount"] == 3
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]})
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert s3.get_object(Bucket=b, Key="t")["Body"].read() == b"x"  # the object itself is untouched
    assert s3.delete_object_tagging(Bucket=b, Key="t")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=b, Key="t")
    # A new PutObject replaces the tags with its own (none here).
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    s3.put_object(Bucket=b, Key="t", Body=b"y")
    assert tag_dict(s3, b, "t") == {}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_tagging(Bucket=b, Key="missing")
    assert error_of(e) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_tagging(Bucket=b, Key="missing", Tagging={"TagSet": []})
    assert error_of(e) == "NoSuchKey"


def test_tagging_limits(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="t", Body=b"x")

    def put_tags(tags):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": tags})
        return error_of(e), status_of(e)

    eleven = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    assert put_tags(eleven) == ("BadRequest", 400)
    assert put_tags([{"Key": "k" * 129, "Value": "v"}]) == ("InvalidTag", 400)
    assert put_tags([{"Key": "k", "Value": "v" * 257}]) == ("InvalidTag", 400)
    assert put_tags([{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]) == ("InvalidTag", 400)
    assert put_tags([{"Key": "aws:reserved", "Value": "1"}]) == ("InvalidTag", 400)
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": eleven[:10]})
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]})
    for header, code in [("&".join(f"k{i}=v" for i in range(11)), "BadRequest"), ("a=1&a=2", "InvalidArgument"),
                         ("k=" + "v" * 257, "InvalidTag")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket=b, Key="h", Body=b"x", Tagging=header)
        assert error_of(e) == code, header
    assert "Contents" not in s3.list_objects_v2(Bucket=b, Prefix="h")


def test_tags_through_copy_and_multipart(s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=b, Key="kept", CopySource=f"{b}/src")
    assert tag_dict(s3, b, "kept") == {"a": "1"}
    s3.copy_object(Bucket=b, Key="replaced", CopySource=f"{b}/src", TaggingDirective="REPLACE", Tagging="b=2")
    assert tag_dict(s3, b, "replaced") == {"b": "2"}
    s3.copy_object(Bucket=b, Key="cleared", CopySource=f"{b}/src", TaggingDirective="REPLACE")
    assert tag_dict(s3, b, "cleared") == {}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=b, Key="bad", CopySource=f"{b}/src", TaggingDirective="MERGE")
    assert error_of(e) == "InvalidArgument"
    uid = s3.create_multipart_upload(Bucket=b, Key="mp", Tagging="m=1&n=2")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=1, Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert tag_dict(s3, b, "mp") == {"m": "1", "n": "2"}


def test_tags_survive_kill_9(start_server):
    srv = start_server()
    s3 = srv.client("s3")
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"x", Tagging="from=put")
    s3.put_object(Bucket=b, Key="k2", Body=b"x")
    s3.put_object_tagging(Bucket=b, Key="k2", Tagging={"TagSet": [{"Key": "from", "Value": "tagging"}]})
    uid = s3.create_multipart_upload(Bucket=b, Key="mp", Tagging="from=upload")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=uid, PartNumber=1, Body=b"p")["ETag"]
    srv.stop(signal.SIGKILL)
    s3 = start_server(data_dir=srv.data_dir).client("s3")
    assert tag_dict(s3, b, "k") == {"from": "put"} and tag_dict(s3, b, "k2") == {"from": "tagging"}
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert tag_dict(s3, b, "mp") == {"from": "upload"}


# ---- presigned URLs

def test_presigned_put_and_get_with_plain_http(server, s3):
    b = new_bucket(s3)
    signer = server.client("s3", signature_version="s3v4")
    params = {"Bucket": b, "Key": "up/loaded.txt", "ContentType": "text/plain", "Metadata": {"who": "urllib"},
              "Tagging": "via=presigned"}
    url = signer.generate_presigned_url("put_object", Params=params, ExpiresIn=60)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url
    # botocore signs these headers but leaves them out of the URL: the caller sends them.
    req = urllib.request.Request(url, data=b"sent with urllib", method="PUT", headers={
        "Content-Type": "text/plain", "x-amz-meta-who": "urllib", "x-amz-tagging": "via=presigned"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and r.headers["ETag"] == f'"{hashlib.md5(b"sent with urllib").hexdigest()}"'
    got = s3.get_object(Bucket=b, Key="up/loaded.txt")
    assert got["Body"].read() == b"sent with urllib"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"who": "urllib"} and got["TagCount"] == 1
    url = signer.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "up/loaded.txt",
                                                              "ResponseContentDisposition": "attachment"})
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.read() == b"sent with urllib" and r.headers["Content-Disposition"] == "attachment"
    # Other SDKs' presigners put x-amz-* headers in the query string; S3 applies them.
    hoisted = signer.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "hoisted"}, ExpiresIn=60)
    hoisted += "&" + urllib.parse.urlencode({"x-amz-meta-colour": "red", "x-amz-tagging": "a=b&c=d"})
    with urllib.request.urlopen(urllib.request.Request(hoisted, data=b"h", method="PUT"), timeout=5) as r:
        assert r.status == 200
    assert s3.head_object(Bucket=b, Key="hoisted")["Metadata"] == {"colour": "red"}
    assert tag_dict(s3, b, "hoisted") == {"a": "b", "c": "d"}


def test_expired_presigned_urls_are_refused(server, s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    urls = [signer.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=1)
            for signer in [s3, server.client("s3", signature_version="s3v4")]]  # SigV2 and SigV4
    time.sleep(2.1)
    for url in urls:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, timeout=5)
        assert e.value.code == 403
        body = ET.fromstring(e.value.read())
        assert body.find("Code").text == "AccessDenied" and body.find("Message").text == "Request has expired"


# ---- the AWS CLI

def test_aws_cli_s3_commands(server, s3, tmp_path):
    b = f"cli-{uuid.uuid4().hex[:10]}"
    aws(server, "s3", "mb", f"s3://{b}")
    big = tmp_path / "big.bin"
    data = os.urandom(9 * MiB)
    big.write_bytes(data)
    aws(server, "s3", "cp", str(big), f"s3://{b}/files/big.bin")
    assert s3.head_object(Bucket=b, Key="files/big.bin")["ETag"].endswith('-2"')  # multipart was used
    out = tmp_path / "out.bin"
    aws(server, "s3", "cp", f"s3://{b}/files/big.bin", str(out))
    assert out.read_bytes() == data
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    aws(server, "s3", "sync", str(tree), f"s3://{b}/tree")
    listing = aws(server, "s3", "ls", f"s3://{b}/tree/", "--recursive").stdout
    assert "tree/a.txt" in listing and "tree/sub/b.txt" in listing
    assert "PRE sub/" in aws(server, "s3", "ls", f"s3://{b}/tree/").stdout
    assert b in aws(server, "s3", "ls").stdout
    back = tmp_path / "back"
    aws(server, "s3", "sync", f"s3://{b}/tree", str(back))
    assert (back / "sub" / "b.txt").read_text() == "b"
    head = json.loads(aws(server, "s3api", "head-object", "--bucket", b, "--key", "tree/a.txt").stdout)
    assert head["ContentLength"] == 1
    proc = aws(server, "s3api", "get-object", "--bucket", b, "--key", "nope", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0 and "NoSuchKey" in proc.stderr
    aws(server, "s3", "rm", f"s3://{b}", "--recursive")
    aws(server, "s3", "rb", f"s3://{b}")


def test_presigned_url_and_virtual_host_style(server, s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="shared.txt", Body=b"presigned")
    for signer in [s3, server.client("s3", signature_version="s3v4")]:  # SigV2 (boto3's default) and SigV4
        url = signer.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "shared.txt"}, ExpiresIn=60)
        with urllib.request.urlopen(url, timeout=5) as r:
            assert r.read() == b"presigned"
    port = server.port
    req = urllib.request.Request(f"http://127.0.0.1:{port}/shared.txt",
                                 headers={"Host": f"{b}.s3.localhost:{port}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.read() == b"presigned"


# ---- durability

def test_objects_survive_kill_9(start_server, tmp_path):
    srv = start_server()
    s3 = srv.client("s3")
    b = new_bucket(s3)
    data = os.urandom(2 * MiB)
    s3.put_object(Bucket=b, Key="durable", Body=data, Metadata={"k": "v"})
    up = s3.create_multipart_upload(Bucket=b, Key="mp")
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")["ETag"]
    srv.stop(signal.SIGKILL)
    srv2 = start_server(data_dir=srv.data_dir)
    s3 = srv2.client("s3")
    got = s3.get_object(Bucket=b, Key="durable")
    assert got["Body"].read() == data and got["Metadata"] == {"k": "v"}
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == b"part"
    assert os.listdir(os.path.join(srv.data_dir, "objects", "tmp")) == []


# ---- notifications

RECORDER = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {}
"""


def function_events(server, name):
    with urllib.request.urlopen(f"{server.endpoint}/_lamina/logs/{urllib.parse.quote(name)}", timeout=5) as r:
        lines = [e["message"] for e in json.loads(r.read())["events"]]
    return [json.loads(p[6:]) for line in lines for p in line.splitlines() if p.startswith("EVENT ")]


def test_notification_to_function(server, s3, lam):
    fn = create(lam, {"app.py": RECORDER})
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    b = new_bucket(s3)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "to-fn", "LambdaFunctionArn": arn,
                                          "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    conf = s3.get_bucket_notification_configuration(Bucket=b)
    assert conf["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == arn
    body = b"event body"
    s3.put_object(Bucket=b, Key="in/my photo.jpg", Body=body)
    s3.delete_object(Bucket=b, Key="in/my photo.jpg")
    events = wait_for(lambda: len(function_events(server, fn)) >= 2 and function_events(server, fn), timeout=30)
    assert events, "no events reached the function"
    records = {e["Records"][0]["eventName"]: e["Records"][0] for e in events}
    put = records["ObjectCreated:Put"]
    assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3" and put["awsRegion"] == "us-east-1"
    assert put["eventTime"].endswith("Z") and put["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert put["responseElements"]["x-amz-request-id"] and "principalId" in put["userIdentity"]
    s3rec = put["s3"]
    assert s3rec["s3SchemaVersion"] == "1.0" and s3rec["configurationId"] == "to-fn"
    assert s3rec["bucket"]["name"] == b and s3rec["bucket"]["arn"] == f"arn:aws:s3:::{b}"
    assert s3rec["object"]["key"] == "in/my+photo.jpg" and s3rec["object"]["size"] == len(body)
    assert s3rec["object"]["eTag"] == hashlib.md5(body).hexdigest() and s3rec["object"]["sequencer"]
    removed = records["ObjectRemoved:Delete"]["s3"]["object"]
    assert removed["key"] == "in/my+photo.jpg" and "size" not in removed


def test_notification_to_queue_with_filters(server, s3):
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=unique("s3q"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    b = new_bucket(s3)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "jpgs", "QueueArn": qarn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"},
                                                                    {"Name": "suffix", "Value": ".jpg"}]}}}]})
    conf = s3.get_bucket_notification_configuration(Bucket=b)["QueueConfigurations"][0]
    assert sorted((r["Name"].lower(), r["Value"]) for r in conf["Filter"]["Key"]["FilterRules"]) == \
        [("prefix", "images/"), ("suffix", ".jpg")]
    s3.put_object(Bucket=b, Key="images/a.jpg", Body=b"1")
    s3.put_object(Bucket=b, Key="images/a.png", Body=b"2")
    s3.put_object(Bucket=b, Key="docs/b.jpg", Body=b"3")
    s3.copy_object(Bucket=b, Key="images/c.jpg", CopySource=f"{b}/images/a.jpg")
    received = []

    def poll():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            received.append(json.loads(m["Body"]))
        return len(received) >= 3

    wait_for(poll, timeout=20)
    time.sleep(0.5)
    poll()
    test_events = [m for m in received if m.get("Event") == "s3:TestEvent"]
    assert test_events and test_events[0]["Bucket"] == b
    records = [m["Records"][0] for m in received if "Records" in m]
    assert sorted((r["eventName"], r["s3"]["object"]["key"]) for r in records) == \
        [("ObjectCreated:Copy", "images/c.jpg"), ("ObjectCreated:Put", "images/a.jpg")]


def test_notification_to_topic(server, s3):
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=unique("s3t"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("s3tq"))["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    b = new_bucket(s3)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:Put"]}]})
    assert s3.get_bucket_notification_configuration(Bucket=b)["TopicConfigurations"][0]["TopicArn"] == topic
    s3.put_object(Bucket=b, Key="t.txt", Body=b"topic")
    envelopes = []

    def poll():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            envelopes.append(json.loads(m["Body"]))
        return any("Records" in json.loads(e["Message"]) for e in envelopes)

    assert wait_for(poll, timeout=20)
    env = next(e for e in envelopes if "Records" in json.loads(e["Message"]))
    assert env["Subject"] == "Amazon S3 Notification" and env["TopicArn"] == topic
    record = json.loads(env["Message"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"] == "t.txt"
    assert record["s3"]["configurationId"] == "to-topic"


def test_owed_notifications_survive_kill_9(start_server):
    """A notification its target cannot take yet (the queue is gone) stays
    owed across a crash and is delivered once the target is back."""
    srv = start_server()
    s3, sqs = srv.client("s3"), srv.client("sqs")
    name = unique("s3owed")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    b = new_bucket(s3)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "all", "QueueArn": qarn, "Events": ["s3:ObjectCreated:*"]}]})
    sqs.delete_queue(QueueUrl=url)
    s3.put_object(Bucket=b, Key="owed.txt", Body=b"owed")
    time.sleep(0.5)  # the first delivery attempt fails: no queue
    srv.stop(signal.SIGKILL)

    srv2 = start_server(data_dir=srv.data_dir)
    sqs = srv2.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    records = []

    def poll():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            records.extend(json.loads(m["Body"]).get("Records", []))
        return records

    assert wait_for(poll, timeout=20), srv2.log()
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [("ObjectCreated:Put", "owed.txt")]


def test_notification_destinations_are_validated(s3):
    b = new_bucket(s3)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:does-not-exist",
                                     "Events": ["s3:ObjectCreated:*"]}]})
    assert error_of(e) == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:nope",
                                              "Events": ["s3:ObjectCreated:*"]}]})
    assert error_of(e) == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=b).get("QueueConfigurations") is None


# ---- report

def test_report_object_throughput(server, s3, tmp_path):
    """PutObject / GetObject / UploadPartCopy of 100 MiB over HTTP, next to dd on the same disk."""
    b = new_bucket(s3)
    size = 100 * MiB
    src = tmp_path / "100m.bin"
    with open(src, "wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    dd = subprocess.run(["dd", "if=/dev/zero", f"of={tmp_path / 'ddtest'}", "bs=1M", "count=100", "conv=fsync"],
                        capture_output=True, text=True)
    dd_line = dd.stderr.strip().splitlines()[-1]
    port = server.port
    auth = signed_headers()
    import http.client
    for _ in range(2):  # second round is reported; the first warms the page cache
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        t0 = time.perf_counter()
        with open(src, "rb") as f:
            conn.request("PUT", f"/{b}/big", body=f, headers={**auth, "Content-Length": str(size)})
            r = conn.getresponse()
            r.read()
        put_s = time.perf_counter() - t0
        assert r.status == 200
        t0 = time.perf_counter()
        conn.request("GET", f"/{b}/big", headers=auth)
        r = conn.getresponse()
        n = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        get_s = time.perf_counter() - t0
        conn.close()
        assert n == size
    uid = s3.create_multipart_upload(Bucket=b, Key="copied")["UploadId"]
    t0 = time.perf_counter()
    etag = s3.upload_part_copy(Bucket=b, Key="copied", UploadId=uid, PartNumber=1,
                               CopySource=f"{b}/big")["CopyPartResult"]["ETag"]
    copy_s = time.perf_counter() - t0
    s3.complete_multipart_upload(Bucket=b, Key="copied", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.head_object(Bucket=b, Key="copied")["ContentLength"] == size
    with open(f"/proc/{server.proc.pid}/status") as f:
        peak = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    print(f"\nS3 PutObject 100 MiB (plain HTTP, MD5 + fsync + rename): {size / MiB / put_s:.0f} MB/s ({put_s:.2f}s)"
          f"\nS3 GetObject 100 MiB (plain HTTP, streamed from the file): {size / MiB / get_s:.0f} MB/s ({get_s:.2f}s)"
          f"\nS3 UploadPartCopy 100 MiB (one part, file to file, MD5 + fsync): {size / MiB / copy_s:.0f} MB/s"
          f" ({copy_s:.2f}s)"
          f"\nlamina peak RSS (VmHWM) after the suite so far: {int(peak) // 1024} MiB"
          f"\ndd bs=1M count=100 conv=fsync on the same disk: {dd_line}")
