using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Models;

/// <summary>
/// Past keys and values of every decoder layer, so that a forward pass over new tokens reads the earlier
/// positions instead of recomputing them (transformers' past_key_values). Buffers are allocated once per layer
/// at <see cref="Capacity"/> positions on the first append, [B, KV, Capacity, D], and new positions are copied
/// in place: decoding n tokens copies O(n) keys, not O(n^2) as concatenation would. Inference only (no_grad).
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] _keys,
        _values;

    public KvCache(int layers, long capacity)
    {
        if (layers < 1)
            throw new ArgumentOutOfRangeException(nameof(layers), layers, "a cache needs at least one layer");
        if (capacity < 1)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a cache needs room for at least one position");
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        Capacity = capacity;
    }

    /// <summary>Positions held: the next token's position (when rows are not padded).</summary>
    public long Length { get; private set; }

    /// <summary>Positions the buffers hold at most.</summary>
    public long Capacity { get; }

    public int Layers => _keys.Length;

    /// <summary>
    /// Layer <paramref name="layer"/>'s new keys and values k, v [B, KV, T, D] written after the <see cref="Length"/>
    /// held ones; returns all of them, [B, KV, Length + T, D] (views into the buffers). <see cref="Advance"/> moves
    /// Length on once every layer has appended.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity)
            throw new AloraException($"the key/value cache holds {Capacity} positions; {Length} + {t} do not fit");
        var keys = _keys[layer] ??= Buffer(k);
        var values = _values[layer] ??= Buffer(v);
        if (keys.shape[0] != k.shape[0])
            throw new ArgumentException($"the cache holds {keys.shape[0]} rows, the new keys {k.shape[0]}", nameof(k));
        keys.narrow(2, Length, t).copy_(k);
        values.narrow(2, Length, t).copy_(v);
        return (keys.narrow(2, 0, Length + t), values.narrow(2, 0, Length + t));
    }

    /// <summary>After a forward pass over <paramref name="t"/> new positions.</summary>
    public void Advance(long t)
    {
        if (Length + t > Capacity)
            throw new ArgumentOutOfRangeException(nameof(t), t, $"past the cache's capacity {Capacity}");
        Length += t;
    }

    /// <summary>
    /// A new cache whose row i is this cache's row rows[i] (one shared context read once, then one row per choice),
    /// with room for <paramref name="extra"/> positions after the held ones. rows: int64 [R].
    /// </summary>
    public KvCache SelectRows(Tensor rows, long extra)
    {
        var c = new KvCache(Layers, Length + extra);
        using var scope = NewDisposeScope();
        for (int l = 0; l < Layers; l++)
        {
            if (_keys[l] is not { } k || _values[l] is not { } v)
                throw new InvalidOperationException("the cache is empty: run the context through the model first");
            c._keys[l] = Copy(k, rows, c.Capacity);
            c._values[l] = Copy(v, rows, c.Capacity);
        }
        c.Length = Length;
        return c;
    }

    Tensor Copy(Tensor from, Tensor rows, long capacity)
    {
        var to = zeros([rows.shape[0], from.shape[1], capacity, from.shape[3]], from.dtype, from.device);
        to.narrow(2, 0, Length).copy_(from.narrow(2, 0, Length).index_select(0, rows));
        return to.DetachFromDisposeScope();
    }

    // [B, KV, Capacity, D], owned by the cache (not by the dispose scope of the forward pass that made it)
    Tensor Buffer(Tensor like) => zeros([like.shape[0], like.shape[1], Capacity, like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();

    public void Dispose()
    {
        for (int l = 0; l < Layers; l++)
        {
            _keys[l]?.Dispose();
            _values[l]?.Dispose();
            _keys[l] = _values[l] = null;
        }
    }
}

/// <summary>
/// Which positions the new tokens sit at and which keys they read. Without a cache (training, scoring whole
/// rows) attention is plain causal over the T tokens, as before. With one, new token i sits at Past + i and
/// reads every held key and the new keys up to itself (causal aligned to the bottom right), unless the caller
/// gives per-row positions and a mask (left-padded rows of different lengths).
/// </summary>
public readonly record struct AttentionLayout(Tensor? PositionIds, Tensor? Mask, bool IsCausal)
{
    /// <summary>
    /// ids [B,T] after <paramref name="past"/> cached positions; positionIds [B,T] and mask (bool, true = read)
    /// [B,1,T,past+T] when the rows are padded, else null.
    /// </summary>
    public static AttentionLayout For(long past, long t, Tensor? positionIds, Tensor? mask, Device device)
    {
        if (mask is not null)
            return new(positionIds, mask, false);
        if (past == 0)
            return new(positionIds, null, true);
        if (t == 1)
            return new(positionIds, null, false); // one new token reads everything held
        // token i reads keys j <= past + i: [T, past+T]
        var rowsAt = ScalarOps.Arange(past, past + t, ScalarType.Int64, device).unsqueeze(1); // [T,1]
        var keysAt = ScalarOps.Arange(past + t, ScalarType.Int64, device).unsqueeze(0); // [1,past+T]
        return new(positionIds, keysAt.le(rowsAt), false);
    }
}
