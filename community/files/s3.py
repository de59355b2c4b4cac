"""Files in an S3-compatible object store (AWS S3, MinIO, Ceph, Garage, ...),
for deployments with several hosts. Through boto3, AWS's own client.

How an upload is stored, and why this way. The key is the SHA-256 of the
bytes, known only once the last byte is read. We copy the upload into a local
temp file (0600, in the system temp directory), hashing and counting as we go;
only once the whole stream has been read within the limit do we send the file
to the bucket, straight under its final name. So:
- a refused or broken upload never reaches the bucket at all: nothing to clean;
- memory stays bounded: the upload goes through `upload_file`, which reads the
  file from disk part by part (a multipart upload for big files, which boto3
  aborts if it fails, so no half object is ever visible: S3 shows an object
  only once it is complete);
- one write to the bucket, not two (the other way, uploading to a temporary
  name then copying to the hash's name, writes every file twice and leaves
  the temporary object behind when the process dies in between);
- a file already stored is not sent again (dedupe).
The price is local disk for the uploads in flight (at most the size limit each).

Nothing is ever public: objects are written with no ACL (so private, the
bucket owner's only) and as application/octet-stream; downloads go through our
route, which streams them or redirects to a presigned URL valid for seconds.
"""
import tempfile
from typing import BinaryIO

from community.files.base import Storage, Stored, check_key, copy_hashing
from community.files.names import content_disposition


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None,
                 region: str | None = None, addressing: str | None = None,
                 spool_dir: str | None = None):
        # Imported here: a deployment on local disk never loads boto3.
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config
        from botocore.exceptions import ClientError

        if addressing not in (None, "path", "virtual"):
            raise ValueError("FILE_STORAGE_URL: addressing is path or virtual")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.spool_dir = spool_dir
        # Path-style (http://host/bucket/key) by default with an endpoint: what
        # MinIO and most self-hosted stores expect; AWS itself picks on its own.
        style = addressing or ("path" if endpoint else "auto")
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=region,
            config=Config(signature_version="s3v4", s3={"addressing_style": style},
                          retries={"mode": "standard", "max_attempts": 3}))
        # Parts of 8 MB, read from the spool file as they are sent, 2 at a time:
        # each part in flight costs about 1.5 MB of buffers whatever the file's
        # size (measured: 25 MB stored at a peak of 2.2 MB with 1, 3-4.4 MB with
        # 2, 5-7 MB with 4), and 2 already keep a fast link busy.
        self.transfer = TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                       multipart_chunksize=8 * 1024 * 1024, max_concurrency=2)
        self._client_error = ClientError

    def object_name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def save(self, stream: BinaryIO, max_bytes: int) -> Stored:
        # delete=True: the spool goes when closed, whatever happens below.
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="upload-", suffix=".part") as spool:
            key, size = copy_hashing(stream, spool, max_bytes)
            spool.flush()
            if not self.exists(key):
                self.client.upload_file(spool.name, self.bucket, self.object_name(key),
                                        ExtraArgs={"ContentType": "application/octet-stream"},
                                        Config=self.transfer)
        return Stored(key=key, size=size, sha256=key)

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_name(key))
        except self._client_error as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def open(self, key: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_name(key))
        except self._client_error as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                raise FileNotFoundError(key) from None
            raise
        # botocore's StreamingBody: read(n) pulls from the socket as it goes.
        return answer["Body"]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_name(key))

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return head["ContentLength"]

    def presigned_url(self, key: str, seconds: int, filename: str, inline: bool = False,
                      content_type: str | None = None) -> str:
        """A GET URL valid for `seconds`, whose answer names `filename` and is an
        attachment unless `inline` (the route decides, from the sniffed kind).

        The store can't add our nosniff and CSP headers to its answer; it is on
        the store's origin, not ours, so a script in a file can't reach our
        cookies, but routes should still stream (not redirect) what they show
        inline. `private, no-store`: no shared cache keeps a copy.
        """
        params = {"Bucket": self.bucket, "Key": self.object_name(key),
                  "ResponseContentDisposition": content_disposition(filename, inline),
                  "ResponseCacheControl": "private, no-store"}
        if content_type:
            params["ResponseContentType"] = content_type
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(seconds))

