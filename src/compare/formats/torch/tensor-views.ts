// What torch.save's pickle says about tensors, modelled without running it: a persistent id names a storage
// (one `data/<key>` member of the archive), and torch._utils' rebuild functions describe a tensor as a view of one.

import type { UserError } from '../../../errors.js';
import { PickleExtension, PickleGlobal, PickleTuple, type PickleHooks, type PickleValue } from './pickle-machine.js';

export class StorageRef extends PickleExtension {
  constructor(
    readonly key: string,
    /** The storage class's name: `FloatStorage`…, or `UntypedStorage` (whose numel counts bytes). */
    readonly storageType: string,
    readonly numel: number,
  ) {
    super();
  }
}

export class TensorView extends PickleExtension {
  constructor(
    readonly storage: StorageRef,
    /** In elements of the tensor's dtype, like `stride`. */
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    /** The dtype `_rebuild_tensor_v3` pairs with an UntypedStorage (`uint16`); typed storages imply theirs. */
    readonly dtypeName: string | undefined,
  ) {
    super();
  }
}

export class TorchPickleHooks implements PickleHooks {
  /** Every storage the pickle refers to, in the order it first does. */
  readonly storages = new Map<string, StorageRef>();

  constructor(private readonly fail: (what: string) => UserError) {}

  persistentLoad(pid: PickleValue): PickleValue {
    const [tag, storageType, key, , numel] = pid instanceof PickleTuple ? pid.items : [];
    if (tag !== 'storage' || !(storageType instanceof PickleGlobal) || typeof key !== 'string' || !isCount(numel)) {
      throw this.fail("a persistent id is not a torch storage ('storage', <storage type>, <key>, <location>, <numel>)");
    }
    const known = this.storages.get(key);
    if (known && (known.storageType !== storageType.name || known.numel !== numel)) {
      throw this.fail(`storage ${key} is declared twice, as ${known.numel} ${known.storageType} and as ${numel} ${storageType.name}`);
    }
    const storage = known ?? new StorageRef(key, storageType.name, numel);
    this.storages.set(key, storage);
    return storage;
  }

  reduce(callable: PickleGlobal, args: readonly PickleValue[]): PickleValue | undefined {
    switch (callable.qualifiedName) {
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return this.view(args, undefined);
      case 'torch._utils._rebuild_tensor_v3': {
        const dtype = args[6];
        if (!(dtype instanceof PickleGlobal)) throw this.fail('a _rebuild_tensor_v3 call names its dtype with something other than a torch dtype');
        return this.view(args, dtype.name);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return args[0] instanceof TensorView ? args[0] : undefined;
      case 'torch._tensor._rebuild_from_type_v2': {
        // A tensor subclass: the tensor itself is rebuilt by the function and arguments it wraps.
        const [rebuild, , rebuildArgs] = args;
        return rebuild instanceof PickleGlobal && rebuildArgs instanceof PickleTuple ? this.reduce(rebuild, rebuildArgs.items) : undefined;
      }
      default:
        return undefined;
    }
  }

  private view(args: readonly PickleValue[], dtypeName: string | undefined): TensorView {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) throw this.fail('a tensor is rebuilt from something other than a storage');
    const shape = size instanceof PickleTuple && size.items.every(isCount) ? (size.items as number[]) : undefined;
    const strides = stride instanceof PickleTuple && stride.items.every(isCount) ? (stride.items as number[]) : undefined;
    if (!isCount(offset) || !shape || !strides || shape.length !== strides.length) {
      throw this.fail(`a tensor of storage ${storage.key} has a malformed offset, size or stride`);
    }
    return new TensorView(storage, offset, shape, strides, dtypeName);
  }
}

function isCount(value: PickleValue | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
