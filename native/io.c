/*
 * The two things backy's I/O needs that Node's fs does not expose:
 * - where a file holds data and where it has holes (lseek(2)'s SEEK_DATA and
 *   SEEK_HOLE): reading a hole only makes the kernel fill pages with zeros;
 * - where a buffer starts within its memory page: the kernel copies to and
 *   from page-aligned buffers at about twice the speed of buffers that
 *   start 16 bytes in, which is where large Node buffers start;
 * - flock(2), the lock backy 2.x takes on a job's `config`: the locking
 *   library backy uses takes open file description locks on Linux, which
 *   flock locks do not see;
 * - a small regular file read in one call (open, fstat, read, close):
 *   `status` reads 10,000 `.rev` files, and each of Node's four calls
 *   costs more than the system call it makes;
 * - syncfs(2): one flush of a filesystem makes a batch of a chunk store's
 *   new files durable before they are renamed into place, where a flush of
 *   each file costs a journal commit each (50 MB/s for 64 KiB files here);
 * and one thing it has nothing fast enough for:
 * - a checksum of a chunk at memory speed (XXH3 from the xxHash library,
 *   inlined from its header: nothing to load at run time), for verifying
 *   an image written past the page cache without reading it back. Left
 *   out when the header is missing.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<xxhash.h>)
#define XXH_INLINE_ALL
#include <xxhash.h>
/* XXH3 is stable (and hashes as xxhsum does) from xxHash 0.8 on. */
#if XXH_VERSION_NUMBER >= 800
#define HAVE_XXHASH 1
#endif
#endif
#endif

#define CHECK(call)                \
  do {                             \
    if ((call) != napi_ok) return NULL; \
  } while (0)

/*
 * dataRanges(fd, start, end) -> [size, s0, e0, s1, e1, ...]: the file's
 * size, then the data ranges within [start, min(end, size)). Null when the
 * file cannot tell (a pipe, a filesystem without SEEK_DATA): read it all.
 */
static napi_value data_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t start, end;
  if (argc != 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int64(env, argv[1], &start) != napi_ok ||
      napi_get_value_int64(env, argv[2], &end) != napi_ok || start < 0) {
    napi_throw_type_error(env, NULL, "dataRanges(fd, start, end) takes a file descriptor and two offsets");
    return NULL;
  }
  napi_value result, number;
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  if (end > size) end = size;
  CHECK(napi_create_array(env, &result));
  CHECK(napi_create_int64(env, size, &number));
  CHECK(napi_set_element(env, result, 0, number));
  uint32_t index = 1;
  for (off_t at = start; at < end;) {
    off_t data = lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break; /* nothing but a hole up to the end */
    off_t hole = data < 0 ? -1 : lseek(fd, data, SEEK_HOLE);
    if (data < 0 || hole < 0) {
      CHECK(napi_get_null(env, &result));
      return result;
    }
    if (data >= end) break;
    if (hole > end) hole = end;
    CHECK(napi_create_int64(env, data, &number));
    CHECK(napi_set_element(env, result, index++, number));
    CHECK(napi_create_int64(env, hole, &number));
    CHECK(napi_set_element(env, result, index++, number));
    at = hole;
  }
  return result;
}

/* pageOffset(buffer) -> where the buffer's bytes start within their page. */
static napi_value page_offset(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t length;
  if (argc != 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "pageOffset(buffer) takes a Buffer");
    return NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  napi_value result;
  CHECK(napi_create_int64(env, (int64_t)((uintptr_t)data % (uintptr_t)page), &result));
  return result;
}

/*
 * zeroFill(buffer, start, end): memset. I/O buffers live in shared memory
 * (the hash workers read them in place), where V8's own fill goes byte by
 * byte: 1.3 GB/s against 28 GB/s here.
 */
static napi_value zero_fill(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t length;
  int64_t start, end;
  if (argc != 3 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok ||
      napi_get_value_int64(env, argv[1], &start) != napi_ok || napi_get_value_int64(env, argv[2], &end) != napi_ok ||
      start < 0 || end < start || (uint64_t)end > length) {
    napi_throw_range_error(env, NULL, "zeroFill(buffer, start, end) takes a Buffer and a range within it");
    return NULL;
  }
  memset((char *)data + start, 0, (size_t)(end - start));
  return NULL;
}

/*
 * tryFlock(fd) -> true when it took an exclusive flock(2) on the file (held
 * until the descriptor is closed), false when another holds one.
 */
static napi_value try_flock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "tryFlock(fd) takes a file descriptor");
    return NULL;
  }
  int res;
  do {
    res = flock(fd, LOCK_EX | LOCK_NB);
  } while (res != 0 && errno == EINTR);
  if (res != 0 && errno != EWOULDBLOCK) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, res == 0, &result));
  return result;
}

/* syncfs(fd): flushes the whole filesystem the descriptor's file is on. */
static napi_value sync_fs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "syncfs(fd) takes a file descriptor");
    return NULL;
  }
  if (syncfs(fd) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  return NULL;
}

/* An Error as Node's fs makes them: code (the errno's name), syscall, path. */
static napi_value throw_errno(napi_env env, int error, const char *syscall, const char *path) {
  const char *name = strerrorname_np(error);
  char message[4200];
  snprintf(message, sizeof message, "%s: %s, %s '%s'", name ? name : "EUNKNOWN", strerror(error), syscall, path);
  napi_value text, code, err, value;
  CHECK(napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text));
  CHECK(napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code));
  CHECK(napi_create_error(env, code, text, &err));
  CHECK(napi_set_named_property(env, err, "code", code));
  CHECK(napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value));
  CHECK(napi_set_named_property(env, err, "syscall", value));
  CHECK(napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value));
  CHECK(napi_set_named_property(env, err, "path", value));
  napi_throw(env, err);
  return NULL;
}

/*
 * readRegular(path, buffer) -> how many bytes of the file (followed through
 * symlinks) were read into the buffer, up to its length, stopping at the
 * first short read. Opened without blocking on a FIFO; a file that is not
 * regular throws with code "ENOTREG" and its `mode`.
 */
static napi_value read_regular(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t path_length;
  void *data;
  size_t length;
  if (argc != 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok ||
      path_length >= sizeof path - 1 || strlen(path) != path_length ||
      napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "readRegular(path, buffer) takes a path (shorter than 4095 bytes, no NUL) and a Buffer");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  struct stat info_;
  if (fstat(fd, &info_) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, error, "fstat", path);
  }
  if (!S_ISREG(info_.st_mode)) {
    close(fd);
    napi_value code, text, err, mode;
    CHECK(napi_create_string_utf8(env, "ENOTREG", NAPI_AUTO_LENGTH, &code));
    CHECK(napi_create_string_utf8(env, "not a regular file", NAPI_AUTO_LENGTH, &text));
    CHECK(napi_create_error(env, code, text, &err));
    CHECK(napi_set_named_property(env, err, "code", code));
    CHECK(napi_create_uint32(env, (uint32_t)info_.st_mode, &mode));
    CHECK(napi_set_named_property(env, err, "mode", mode));
    napi_throw(env, err);
    return NULL;
  }
  size_t done = 0;
  while (done < length) {
    ssize_t got = read(fd, (char *)data + done, length - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      close(fd);
      return throw_errno(env, error, "read", path);
    }
    size_t wanted = length - done;
    done += (size_t)got;
    /* A regular file reads short only at its end. */
    if ((size_t)got < wanted) break;
  }
  close(fd);
  napi_value result;
  CHECK(napi_create_double(env, (double)done, &result));
  return result;
}

#ifdef HAVE_XXHASH
/* checksum(buffer, seed) -> the XXH3 64-bit hash of its bytes with a BigInt seed, as a BigInt. */
static napi_value checksum(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t length;
  uint64_t seed;
  bool lossless;
  if (argc != 2 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok ||
      napi_get_value_bigint_uint64(env, argv[1], &seed, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "checksum(buffer, seed) takes a Buffer and a 64-bit BigInt");
    return NULL;
  }
  napi_value result;
  CHECK(napi_create_bigint_uint64(env, (uint64_t)XXH3_64bits_withSeed(data, length, (XXH64_hash_t)seed), &result));
  return result;
}
#endif

NAPI_MODULE_INIT() {
  napi_value fn;
  CHECK(napi_create_function(env, "dataRanges", NAPI_AUTO_LENGTH, data_ranges, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "dataRanges", fn));
  CHECK(napi_create_function(env, "pageOffset", NAPI_AUTO_LENGTH, page_offset, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "pageOffset", fn));
  CHECK(napi_create_function(env, "zeroFill", NAPI_AUTO_LENGTH, zero_fill, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "zeroFill", fn));
  CHECK(napi_create_function(env, "tryFlock", NAPI_AUTO_LENGTH, try_flock, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "tryFlock", fn));
  CHECK(napi_create_function(env, "syncfs", NAPI_AUTO_LENGTH, sync_fs, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "syncfs", fn));
  CHECK(napi_create_function(env, "readRegular", NAPI_AUTO_LENGTH, read_regular, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "readRegular", fn));
#ifdef HAVE_XXHASH
  CHECK(napi_create_function(env, "checksum", NAPI_AUTO_LENGTH, checksum, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "checksum", fn));
#endif
  return exports;
}
