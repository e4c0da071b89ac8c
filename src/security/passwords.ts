/** The argon2 binding (a native library), loaded with the first password hashed or checked, not at the server's start. */
let argon2: Promise<typeof import('@node-rs/argon2')> | null = null;
const loadArgon2 = () => (argon2 ??= import('@node-rs/argon2'));

/** Hashes and checks passwords. Injected (AppContext.passwords, prepareDatabase) so tests can use a cheap one. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a hash it cannot read (never throws). */
  verify(passwordHash: string, password: string): Promise<boolean>;
}

/** argon2id with given costs; `verify` reads the costs from the stored hash, whatever made it. */
export function argon2Hasher(options: { memoryCost?: number; timeCost?: number; parallelism?: number } = {}): PasswordHasher {
  return {
    hash: async (password) => (await loadArgon2()).hash(password, options),
    async verify(passwordHash, password) {
      // outside the try: a binding that cannot load is an error, not a wrong password
      const { verify } = await loadArgon2();
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    },
  };
}

// argon2id with the library's defaults (19 MiB, 2 passes), the OWASP-recommended floor: the one the app runs with.
export const passwordHasher: PasswordHasher = argon2Hasher();
