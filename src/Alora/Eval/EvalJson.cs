using System.Text.Json;
using System.Text.Json.Nodes;

namespace Alora.Eval;

/// <summary>
/// Evaluation results as JSON with snake_case keys, shared by the CLI and experiment runners.
/// Non-finite numbers (a stderr over one item, the mean NLL of a document with no predicted token) are
/// written as null: JSON has no NaN, and <see cref="Write"/> turns any that are left into null rather than throw.
/// </summary>
public static class EvalJson
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Indented JSON text; a NaN or infinity anywhere in the tree is written as null (the tree is changed in place).</summary>
    public static string Write(JsonNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return FiniteOrNull(node)!.ToJsonString(Indented);
    }

    /// <summary>Replaces every non-finite number of the tree by null and returns the tree (null when the node itself was one).</summary>
    public static JsonNode? FiniteOrNull(JsonNode? node)
    {
        if (NonFinite(node))
            return null;
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    if (NonFinite(o[key]))
                        o[key] = null;
                    else
                        FiniteOrNull(o[key]);
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    if (NonFinite(a[i]))
                        a[i] = null;
                    else
                        FiniteOrNull(a[i]);
                }
                break;
        }
        return node;
    }

    static bool NonFinite(JsonNode? n) =>
        n is JsonValue v && (v.TryGetValue<double>(out var d) && !double.IsFinite(d) || v.TryGetValue<float>(out var f) && !float.IsFinite(f));

    /// <summary>One task: task, n, acc, acc_norm, their stderrs, and with <paramref name="perItem"/> every item's choices' log-likelihoods.</summary>
    public static JsonObject Mcq(McqResult r, string? model = null, string? data = null, string? labels = null, bool perItem = true)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = new JsonObject();
        if (model is not null)
            o["model"] = Path.GetFullPath(model);
        o["task"] = r.Task;
        if (data is not null)
            o["data"] = Path.GetFullPath(data);
        if (labels is not null)
            o["labels"] = Path.GetFullPath(labels);
        o["n"] = r.N;
        o["acc"] = Num(r.Acc);
        o["acc_stderr"] = Num(r.AccStderr);
        o["acc_norm"] = Num(r.AccNorm);
        o["acc_norm_stderr"] = Num(r.AccNormStderr);
        if (perItem)
        {
            o["per_item"] = new JsonArray(
                r.PerItem.Select(p =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["index"] = p.Index,
                                ["id"] = p.Id,
                                ["answer"] = p.Answer,
                                ["pred"] = p.Pred,
                                ["pred_norm"] = p.PredNorm,
                                ["loglikelihoods"] = new JsonArray(p.LogLikelihoods.Select(x => Num(x)).ToArray()),
                            }
                    )
                    .ToArray()
            );
        }
        return o;
    }

    /// <summary>Perplexity with lm-evaluation-harness's definitions (the keys of `alora eval perplexity`).</summary>
    public static JsonObject Perplexity(PerplexityResult r, string? data = null, bool perDocument = false)
    {
        ArgumentNullException.ThrowIfNull(r);
        var o = new JsonObject();
        if (data is not null)
            o["data"] = Path.GetFullPath(data);
        o["documents"] = r.Documents;
        o["tokens"] = r.Tokens;
        o["nll_sum"] = Num(r.NllSum);
        o["mean_nll"] = Num(r.MeanNll);
        o["perplexity"] = Num(r.Perplexity);
        o["words"] = r.Words;
        o["bytes"] = r.Bytes;
        o["word_perplexity"] = r.WordPerplexity is { } w ? Num(w) : null;
        o["bits_per_byte"] = r.BitsPerByte is { } bpb ? Num(bpb) : null;
        o["max_length"] = r.MaxLength;
        o["stride"] = r.Stride;
        if (perDocument)
        {
            o["per_document"] = new JsonArray(
                r.PerDocument.Select(d =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["index"] = d.Index,
                                ["tokens"] = d.Tokens,
                                ["nll_sum"] = Num(d.NllSum),
                                ["mean_nll"] = Num(d.MeanNll),
                            }
                    )
                    .ToArray()
            );
        }
        return o;
    }

    /// <summary>{"model", "limit", "perplexity": {name: {...}}, "tasks": {name: {...}}}; each part also has its wall time in seconds.</summary>
    public static JsonObject Suite(EvalSuiteResult r, string? model = null, bool details = false)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ppl = new JsonObject();
        foreach (var p in r.Perplexity)
        {
            var node = Perplexity(p.Result, p.Path, details);
            node["seconds"] = Num(p.Seconds);
            ppl[p.Name] = node;
        }
        var tasks = new JsonObject();
        foreach (var t in r.Tasks)
        {
            var node = Mcq(t.Result, data: t.Path, labels: t.LabelsPath, perItem: details);
            node["seconds"] = Num(t.Seconds);
            tasks[t.Name] = node;
        }
        var o = new JsonObject();
        if (model is not null)
            o["model"] = Path.GetFullPath(model);
        o["limit"] = r.Limit;
        o["perplexity"] = ppl;
        o["tasks"] = tasks;
        return o;
    }

    static JsonValue? Num(double x) => double.IsFinite(x) ? JsonValue.Create(x) : null;
}
