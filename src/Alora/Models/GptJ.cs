using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Models;

// GPTJForCausalLM with checkpoint key names: transformer.wte, transformer.h.N.{ln_1,
// attn.{q,k,v,out}_proj, mlp.{fc_in,fc_out}}, transformer.ln_f, lm_head (with bias).

public sealed class GptJAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> q_proj,
        k_proj,
        v_proj,
        out_proj;
    readonly int _heads,
        _headDim,
        _rotary;

    public GptJAttention(GptJConfig c)
        : base("GPTJAttention")
    {
        _heads = c.NHead;
        _headDim = c.Dh;
        _rotary = c.Rotary;
        q_proj = new Linear(c.NEmbd, c.NEmbd, false);
        k_proj = new Linear(c.NEmbd, c.NEmbd, false);
        v_proj = new Linear(c.NEmbd, c.NEmbd, false);
        out_proj = new Linear(c.NEmbd, c.NEmbd, false);
        RegisterComponents();
    }

    // x [B,T,C]; cos/sin [T, rotary] (each frequency repeated for its (2i, 2i+1) pair) -> [B,T,C]
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => forward(x, cos, sin, null, 0, new(null, null, true));

    // cos/sin [T, rotary] or [B, T, rotary]; with a cache, the held positions' keys and values are read too
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1];
        var q = ApplyRotary(q_proj.forward(x).view(b, t, _heads, _headDim), cos, sin).transpose(1, 2); // [B,H,T,D]
        var k = ApplyRotary(k_proj.forward(x).view(b, t, _heads, _headDim), cos, sin).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v); // [B,H,P+T,D]
        var y = nn.functional.scaled_dot_product_attention(q, k, v, layout.Mask, is_casual: layout.IsCausal); // [B,H,T,D]
        return out_proj.forward(y.transpose(1, 2).reshape(b, t, _heads * _headDim)).MoveToOuterDisposeScope();
    }

    // Partial rotary on the first rotary_dim features, GPT-J's interleaved pairs (2i, 2i+1). x [B,T,H,D]
    Tensor ApplyRotary(Tensor x, Tensor cos, Tensor sin)
    {
        var c = cos.dim() == 2 ? cos.view(1, cos.shape[0], 1, _rotary) : cos.unsqueeze(2); // [1 or B, T, 1, rotary]
        var s = sin.dim() == 2 ? sin.view(1, sin.shape[0], 1, _rotary) : sin.unsqueeze(2);
        var rot = x[.., .., .., ..(int)_rotary];
        var x1 = rot[.., .., .., TensorIndex.Slice(0, null, 2)];
        var x2 = rot[.., .., .., TensorIndex.Slice(1, null, 2)];
        var rotated = stack([-x2, x1], -1).flatten(-2); // rotate_every_two
        var outRot = (rot * c).Plus(rotated * s);
        return _rotary == _headDim ? outRot : cat([outRot, x[.., .., .., ((int)_rotary)..]], -1);
    }
}

public sealed class GptJMlp : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> fc_in,
        fc_out;
    readonly string _act;

    public GptJMlp(GptJConfig c)
        : base("GPTJMLP")
    {
        _act = c.ActivationFunction;
        long inner = c.NInner ?? 4L * c.NEmbd;
        fc_in = new Linear(c.NEmbd, inner, true);
        fc_out = new Linear(inner, c.NEmbd, true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc_out.forward(Activations.Apply(_act, fc_in.forward(x))).MoveToOuterDisposeScope();
    }
}

public sealed class GptJBlock : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly LayerNorm ln_1;
    public readonly GptJAttention attn;
    public readonly GptJMlp mlp;

    public GptJBlock(GptJConfig c)
        : base("GPTJBlock")
    {
        ln_1 = new LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        attn = new GptJAttention(c);
        mlp = new GptJMlp(c);
        RegisterComponents();
    }

    // parallel attention and MLP from one layer norm: x + attn(ln(x)) + mlp(ln(x))
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin) => forward(x, cos, sin, null, 0, new(null, null, true));

    public Tensor forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer, AttentionLayout layout)
    {
        using var scope = NewDisposeScope();
        var h = ln_1.forward(x);
        return x.Plus(attn.forward(h, cos, sin, cache, layer, layout)).Plus(mlp.forward(h)).MoveToOuterDisposeScope();
    }
}

public sealed class GptJModel : nn.Module<Tensor, Tensor>
{
    public readonly Embedding wte;
    public readonly ModuleList<GptJBlock> h;
    public readonly LayerNorm ln_f;
    readonly RopeTable _rope;

    public GptJModel(GptJConfig c)
        : base("GPTJModel")
    {
        wte = new Embedding(c.VocabSize, c.NEmbd);
        h = new ModuleList<GptJBlock>(Enumerable.Range(0, c.NLayer).Select(_ => new GptJBlock(c)).ToArray());
        ln_f = new LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        _rope = new RopeTable(Rope.InverseFrequencies(c.Rotary, 10000.0, null), interleaved: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids) => forward(ids, null, null, null);

    // ids [B,T] after cache.Length held positions -> hidden [B,T,C]; positionIds [B,T], mask [B,1,T,P+T] for padded rows
    public Tensor forward(Tensor ids, KvCache? cache, Tensor? positionIds, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var x = wte.forward(ids);
        long past = cache?.Length ?? 0,
            t = ids.shape[1];
        var layout = AttentionLayout.For(past, t, positionIds, mask, ids.device);
        Tensor cos,
            sin; // [T, rotary] or [B, T, rotary]
        if (positionIds is null)
        {
            (cos, sin) = _rope.Table(past + t, x.dtype, ids.device);
            (cos, sin) = (cos.narrow(0, past, t), sin.narrow(0, past, t));
        }
        else
            (cos, sin) = _rope.At(positionIds, past + t, x.dtype, ids.device);
        for (int l = 0; l < h.Count; l++)
            x = h[l].forward(x, cos, sin, cache, l, layout);
        cache?.Advance(t);
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _rope.Dispose();
        base.Dispose(disposing);
    }
}

public sealed class GptJForCausalLM : CausalLM
{
    public readonly GptJModel transformer;
    public readonly Linear lm_head;
    readonly GptJConfig _config;

    public GptJForCausalLM(GptJConfig config)
        : base(nameof(GptJForCausalLM))
    {
        _config = config;
        transformer = new GptJModel(config);
        lm_head = new Linear(config.NEmbd, config.VocabSize, true);
        RegisterComponents();
    }

    public override HfConfig Config => _config;
    public override string Architecture => "GPTJForCausalLM";
    public override int ContextLength => _config.NPositions;

    public override int NumLayers => _config.NLayer;

    public override Tensor Hidden(Tensor ids) => transformer.forward(ids);

    public override Tensor Hidden(Tensor ids, KvCache cache, Tensor? positionIds = null, Tensor? mask = null) =>
        transformer.forward(ids, cache, positionIds, mask);

    public override Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var logits = lm_head.forward(hidden);
        return (logits.dtype == ScalarType.Float32 ? logits : logits.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
    }
}
