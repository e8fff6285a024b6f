using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Models;

// GPT2LMHeadModel with checkpoint key names: transformer.{wte,wpe}, transformer.h.N.{ln_1,
// attn.{c_attn,c_proj}, ln_2, mlp.{c_fc,c_proj}}, transformer.ln_f; lm_head tied to wte.
// c_attn, c_proj and c_fc are Conv1D (weights stored in x out).

public sealed class Gpt2Attention : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> c_attn,
        c_proj;
    readonly int _heads,
        _headDim;
    readonly double _qScale;

    public Gpt2Attention(Gpt2Config c, int layerIdx)
        : base("GPT2Attention")
    {
        _heads = c.NHead;
        _headDim = c.NEmbd / c.NHead;
        c_attn = new Conv1D(c.NEmbd, 3L * c.NEmbd);
        c_proj = new Conv1D(c.NEmbd, c.NEmbd);
        // SDPA divides by sqrt(D); undo it when scale_attn_weights is off, and add 1/(layer+1) when asked.
        _qScale = (c.ScaleAttnWeights ? 1.0 : Math.Sqrt(_headDim)) / (c.ScaleAttnByInverseLayerIdx ? layerIdx + 1 : 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => forward(x, null, 0, new(null, null, true));

    // x [B,T,C] -> [B,T,C]; with a cache, the held positions' keys and values are read too
    public Tensor forward(Tensor x, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1],
            c = x.shape[2];
        var qkv = c_attn.forward(x).split(c, 2); // 3 x [B,T,C]
        var q = qkv[0].view(b, t, _heads, _headDim).transpose(1, 2); // [B,H,T,D]
        var k = qkv[1].view(b, t, _heads, _headDim).transpose(1, 2);
        var v = qkv[2].view(b, t, _heads, _headDim).transpose(1, 2);
        if (_qScale != 1.0)
            q = q.Times(_qScale);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v); // [B,H,P+T,D]
        var y = nn.functional.scaled_dot_product_attention(q, k, v, layout.Mask, is_casual: layout.IsCausal);
        return c_proj.forward(y.transpose(1, 2).reshape(b, t, c)).MoveToOuterDisposeScope();
    }
}

public sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> c_fc,
        c_proj;
    readonly string _act;

    public Gpt2Mlp(Gpt2Config c)
        : base("GPT2MLP")
    {
        _act = c.ActivationFunction;
        long inner = c.NInner ?? 4L * c.NEmbd;
        c_fc = new Conv1D(c.NEmbd, inner);
        c_proj = new Conv1D(inner, c.NEmbd);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return c_proj.forward(Activations.Apply(_act, c_fc.forward(x))).MoveToOuterDisposeScope();
    }
}

public sealed class Gpt2Block : nn.Module<Tensor, Tensor>
{
    public readonly LayerNorm ln_1,
        ln_2;
    public readonly Gpt2Attention attn;
    public readonly Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config c, int layerIdx)
        : base("GPT2Block")
    {
        ln_1 = new LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        attn = new Gpt2Attention(c, layerIdx);
        ln_2 = new LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        mlp = new Gpt2Mlp(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => forward(x, null, 0, new(null, null, true));

    public Tensor forward(Tensor x, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        var h = x.Plus(attn.forward(ln_1.forward(x), cache, layer, layout));
        return h.Plus(mlp.forward(ln_2.forward(h))).MoveToOuterDisposeScope();
    }
}

public sealed class Gpt2Model : nn.Module<Tensor, Tensor>
{
    public readonly Embedding wte,
        wpe;
    public readonly ModuleList<Gpt2Block> h;
    public readonly LayerNorm ln_f;

    public Gpt2Model(Gpt2Config c)
        : base("GPT2Model")
    {
        wte = new Embedding(c.VocabSize, c.NEmbd);
        wpe = new Embedding(c.NPositions, c.NEmbd);
        h = new ModuleList<Gpt2Block>(Enumerable.Range(0, c.NLayer).Select(i => new Gpt2Block(c, i)).ToArray());
        ln_f = new LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids) => forward(ids, null, null, null);

    // ids [B,T] after cache.Length held positions -> hidden [B,T,C]; positionIds [B,T], mask [B,1,T,P+T] for padded rows
    public Tensor forward(Tensor ids, KvCache? cache, Tensor? positionIds, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long past = cache?.Length ?? 0,
            t = ids.shape[1];
        var layout = AttentionLayout.For(past, t, positionIds, mask, ids.device);
        var pos = positionIds ?? ScalarOps.Arange(past, past + t, ScalarType.Int64, ids.device).unsqueeze(0); // [1 or B, T]
        var x = wte.forward(ids).Plus(wpe.forward(pos));
        for (int l = 0; l < h.Count; l++)
            x = h[l].forward(x, cache, l, layout);
        cache?.Advance(t);
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }
}

public sealed class Gpt2LMHeadModel : CausalLM
{
    public readonly Gpt2Model transformer;
    readonly Gpt2Config _config;

    public Gpt2LMHeadModel(Gpt2Config config)
        : base(nameof(Gpt2LMHeadModel))
    {
        _config = config;
        transformer = new Gpt2Model(config);
        RegisterComponents();
    }

    public override HfConfig Config => _config;
    public override string Architecture => "GPT2LMHeadModel";
    public override int ContextLength => _config.NPositions;

    public override int NumLayers => _config.NLayer;

    public override Tensor Hidden(Tensor ids) => transformer.forward(ids);

    public override Tensor Hidden(Tensor ids, KvCache cache, Tensor? positionIds = null, Tensor? mask = null) =>
        transformer.forward(ids, cache, positionIds, mask);

    public override Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var logits = nn.functional.linear(hidden, transformer.wte.weight);
        return (logits.dtype == ScalarType.Float32 ? logits : logits.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
    }
}
