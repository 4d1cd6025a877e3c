// The IndexedDB schema of the app's taught models: one database, four object stores, an explicit
// version and one migration step per version. This is the only file that creates or changes
// stores; everything else reads and writes through TeachStore.
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';

/** Bump when the schema changes, and add the step from the previous version to MIGRATIONS. */
export const DB_VERSION = 2;
export const DEFAULT_DB_NAME = 'edge-classifier';

/** Side of the square images examples are stored at; 32×32×3 bytes, NHWC, RGB. */
export const EXAMPLE_SIZE = 32;
export const EXAMPLE_CHANNELS = 3;
export const EXAMPLE_BYTES = EXAMPLE_SIZE * EXAMPLE_SIZE * EXAMPLE_CHANNELS;

/** A model the user teaches: its classes and examples refer to it by id. */
export interface ModelRecord {
  id: string;
  name: string;
  /** ISO 8601 times. */
  created: string;
  updated: string;
  /** The trained model as a native .cnn file, or null before the first training. */
  file: Uint8Array | null;
  /** The file saved before `file`, so one training can be rolled back; null if none. */
  previousFile: Uint8Array | null;
  /** When its classes or examples last changed (ISO 8601). Since version 2. */
  edited: string;
  /** When `file` was stored, or null without one. Since version 2. */
  trainedAt: string | null;
}

export interface ClassRecord {
  id: string;
  modelId: string;
  name: string;
  /** Position among the model's classes (0-based, dense); the trained head's output index. */
  order: number;
}

export interface ExampleRecord {
  id: string;
  classId: string;
  modelId: string;
  /** EXAMPLE_BYTES bytes, 32×32×3 RGB (NHWC), preprocessed like live frames; also the thumbnail. */
  bytes: Uint8Array;
  created: string;
  /** Backbone features cached from the last training, valid only for `fingerprint`. */
  features: Float32Array | null;
  /** Identifies the backbone `features` were computed with; null when nothing is cached. */
  fingerprint: string | null;
}

export interface SettingRecord {
  key: string;
  value: unknown;
}

export interface TeachSchema extends DBSchema {
  models: { key: string; value: ModelRecord; indexes: { byUpdated: string } };
  classes: { key: string; value: ClassRecord; indexes: { byModel: string } };
  examples: { key: string; value: ExampleRecord; indexes: { byClass: string; byModel: string } };
  settings: { key: string; value: SettingRecord };
}

export type TeachDb = IDBPDatabase<TeachSchema>;
type UpgradeTransaction = IDBPTransaction<TeachSchema, StoreNames<TeachSchema>[], 'versionchange'>;

/**
 * MIGRATIONS[v − 1] upgrades a database at version v − 1 to version v (v = 1 creates the stores
 * of an empty database). Steps run in order inside the one versionchange transaction, so a
 * failed upgrade leaves the database at its old version with its data.
 */
const MIGRATIONS: ((db: TeachDb, tx: UpgradeTransaction) => void)[] = [
  (db) => {
    db.createObjectStore('models', { keyPath: 'id' }).createIndex('byUpdated', 'updated');
    db.createObjectStore('classes', { keyPath: 'id' }).createIndex('byModel', 'modelId');
    const examples = db.createObjectStore('examples', { keyPath: 'id' });
    examples.createIndex('byClass', 'classId');
    examples.createIndex('byModel', 'modelId');
    db.createObjectStore('settings', { keyPath: 'key' });
  },
  // 2: models say when they were last edited and trained, so the app can tell a training that
  // predates the current classes and examples. Version-1 records only had `updated`, which
  // stands for both.
  (_db, tx) => {
    const models = tx.objectStore('models');
    void models.openCursor().then(function step(cursor): Promise<void> | undefined {
      if (!cursor) return;
      const m = cursor.value as Omit<ModelRecord, 'edited' | 'trainedAt'> & Partial<ModelRecord>;
      void cursor.update({ ...m, edited: m.edited ?? m.updated, trainedAt: m.trainedAt ?? (m.file ? m.updated : null) });
      return cursor.continue().then(step);
    });
  },
];

if (MIGRATIONS.length !== DB_VERSION) throw new Error(`storage: ${MIGRATIONS.length} migrations for schema version ${DB_VERSION}`);

/** Opens (creating or upgrading as needed) the database. */
export async function openTeachDb(name = DEFAULT_DB_NAME): Promise<TeachDb> {
  try {
    const db = await openDB<TeachSchema>(name, DB_VERSION, {
      upgrade(db, oldVersion, _newVersion, tx) {
        for (let v = oldVersion; v < DB_VERSION; v++) MIGRATIONS[v](db, tx);
      },
      // Another tab opened a newer version: close so its upgrade can proceed; this tab must reload.
      blocking() {
        db.close();
      },
    });
    return db;
  } catch (err) {
    if (err instanceof Error && err.name === 'VersionError') {
      throw new Error(`storage: the database "${name}" was written by a newer version of the app (this one reads schema version ${DB_VERSION}); reload to update the app`);
    }
    throw err;
  }
}
