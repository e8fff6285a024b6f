using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Models;

// LlamaForCausalLM with field names equal to the checkpoint keys:
// model.embed_tokens, model.layers.N.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj,
// input_layernorm, post_attention_layernorm}, model.norm, lm_head (absent when tied).

public sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    // Typed as modules, not Linear, so that an adapter can wrap them (LoRA keeps the Linear as base_layer).
    public nn.Module<Tensor, Tensor> q_proj,
        k_proj,
        v_proj,
        o_proj;
    readonly int _heads,
        _kvHeads,
        _headDim;

    public LlamaAttention(LlamaConfig c)
        : base("LlamaAttention")
    {
        _heads = c.NumAttentionHeads;
        _kvHeads = c.KvHeads;
        _headDim = c.Dh;
        q_proj = new Linear(c.HiddenSize, _heads * _headDim, c.AttentionBias);
        k_proj = new Linear(c.HiddenSize, _kvHeads * _headDim, c.AttentionBias);
        v_proj = new Linear(c.HiddenSize, _kvHeads * _headDim, c.AttentionBias);
        o_proj = new Linear(_heads * _headDim, c.HiddenSize, c.AttentionBias);
        RegisterComponents();
    }

    // x [B,T,C], cos/sin [T, D] -> [B,T,C]
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => forward(x, cos, sin, null, 0, new(null, null, true));

    // x [B,T,C], cos/sin [T, D] or [B,1,T,D]; with a cache, the keys and values of the held positions are read too
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2); // [B,H,T,D]
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KV,T,D]
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2); // [B,KV,T,D]
        q = (q * cos).Plus(RotateHalf(q) * sin);
        k = (k * cos).Plus(RotateHalf(k) * sin); // sin carries rotate_half's sign (RopeTable), so RotateHalf is a roll
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v); // [B,KV,P+T,D]
        if (_kvHeads != _heads)
        {
            // grouped-query attention: query head h reads kv head h / (H / KV)
            k = k.repeat_interleave(_heads / _kvHeads, dim: 1);
            v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
        }
        var y = nn.functional.scaled_dot_product_attention(q, k, v, layout.Mask, is_casual: layout.IsCausal); // [B,H,T,D]
        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return o_proj.forward(y).MoveToOuterDisposeScope();
    }

    // Llama pairs dimension i with i + D/2: rotate_half(x) * sin = [-x2, x1] * [s, s] = [x2, x1] * [-s, s], one roll
    // and a signed table instead of chunk, neg and cat; (-a) b = a (-b) exactly, so the product is bit for bit the same.
    static Tensor RotateHalf(Tensor x) => x.roll(x.shape[^1] / 2, -1);
}

public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> gate_proj,
        up_proj,
        down_proj;
    readonly string _act;

    public LlamaMlp(LlamaConfig c)
        : base("LlamaMLP")
    {
        _act = c.HiddenAct;
        gate_proj = new Linear(c.HiddenSize, c.IntermediateSize, c.MlpBias);
        up_proj = new Linear(c.HiddenSize, c.IntermediateSize, c.MlpBias);
        down_proj = new Linear(c.IntermediateSize, c.HiddenSize, c.MlpBias);
        RegisterComponents();
    }

    // down(act(gate(x)) * up(x))
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(Activations.Apply(_act, gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly LlamaAttention self_attn;
    public readonly LlamaMlp mlp;
    public readonly RmsNorm input_layernorm,
        post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig c)
        : base("LlamaDecoderLayer")
    {
        self_attn = new LlamaAttention(c);
        mlp = new LlamaMlp(c);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => forward(x, cos, sin, null, 0, new(null, null, true));

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(self_attn.forward(input_layernorm.forward(x), cos, sin, cache, layer, layout));
        return h.Plus(mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}

public sealed class LlamaModel : nn.Module<Tensor, Tensor>
{
    public readonly Embedding embed_tokens;
    public readonly ModuleList<LlamaDecoderLayer> layers;
    public readonly RmsNorm norm;
    readonly RopeTable _rope;

    public LlamaModel(LlamaConfig c)
        : base("LlamaModel")
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(c)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        _rope = new RopeTable(Rope.InverseFrequencies(c.Dh, c.RopeTheta, c.RopeScaling), interleaved: false, signedSin: true);
        RegisterComponents();
    }

    // ids [B,T] -> hidden [B,T,C]
    public override Tensor forward(Tensor ids) => forward(ids, null, null, null);

    // ids [B,T] after cache.Length held positions -> hidden [B,T,C]; positionIds [B,T], mask [B,1,T,P+T] for padded rows
    public Tensor forward(Tensor ids, KvCache? cache, Tensor? positionIds, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var x = embed_tokens.forward(ids);
        long past = cache?.Length ?? 0,
            t = ids.shape[1];
        var layout = AttentionLayout.For(past, t, positionIds, mask, ids.device);
        var (cos, sin) = positionIds is null ? RangeTable(past, t, x.dtype, ids.device) : RowTables(positionIds, past + t, x.dtype);
        for (int l = 0; l < layers.Count; l++)
            x = layers[l].forward(x, cos, sin, cache, l, layout);
        cache?.Advance(t);
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    // cos/sin [T, D] of positions past..past+T-1
    (Tensor, Tensor) RangeTable(long past, long t, ScalarType dtype, Device device)
    {
        var (cos, sin) = _rope.Table(past + t, dtype, device);
        return (cos.narrow(0, past, t), sin.narrow(0, past, t));
    }

    // cos/sin [B,1,T,D] of each row's own positions, all below bound (a left-padded row starts later)
    (Tensor, Tensor) RowTables(Tensor positionIds, long bound, ScalarType dtype)
    {
        var (cos, sin) = _rope.At(positionIds, bound, dtype, positionIds.device);
        return (cos.unsqueeze(1), sin.unsqueeze(1));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _rope.Dispose();
        base.Dispose(disposing);
    }
}

public sealed class LlamaForCausalLM : CausalLM
{
    public readonly LlamaModel model;
    public readonly Linear? lm_head;
    readonly LlamaConfig _config;

    public LlamaForCausalLM(LlamaConfig config)
        : base(nameof(LlamaForCausalLM))
    {
        _config = config;
        model = new LlamaModel(config);
        if (!config.Tied)
            lm_head = new Linear(config.HiddenSize, config.VocabSize, false);
        RegisterComponents();
    }

    public override HfConfig Config => _config;
    public LlamaConfig LlamaConfig => _config;
    public override string Architecture => "LlamaForCausalLM";
    public override int ContextLength => _config.MaxPositionEmbeddings;

    public override int NumLayers => _config.NumHiddenLayers;

    public override Tensor Hidden(Tensor ids) => model.forward(ids);

    public override Tensor Hidden(Tensor ids, KvCache cache, Tensor? positionIds = null, Tensor? mask = null) =>
        model.forward(ids, cache, positionIds, mask);

    // tied embeddings reuse embed_tokens.weight as the output matrix
    public override Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var logits = lm_head is null ? nn.functional.linear(hidden, model.embed_tokens.weight) : lm_head.forward(hidden);
        return (logits.dtype == ScalarType.Float32 ? logits : logits.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
    }
}
