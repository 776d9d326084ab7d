declare module 'fs-native-extensions' {
  interface LockOptions {
    shared?: boolean;
  }
  interface FsNativeExtensions {
    tryLock(fd: number, opts?: LockOptions): boolean;
    /** A lock on the bytes [offset, offset + length) only (length 0: to the end). */
    tryLock(fd: number, offset: number, length: number, opts?: LockOptions): boolean;
    waitForLock(fd: number, opts?: LockOptions): Promise<void>;
    waitForLock(fd: number, offset: number, length: number, opts?: LockOptions): Promise<void>;
    waitForLockSync(fd: number, offset: number, length: number, opts?: LockOptions): void;
    unlock(fd: number, offset?: number, length?: number): void;
    /** Punches a hole (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). */
    trim(fd: number, offset: number, length: number): Promise<void>;
    trimSync(fd: number, offset: number, length: number): void;
  }
  const fsx: FsNativeExtensions;
  export default fsx;
}
