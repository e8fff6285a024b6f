using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace Alora.Runtime;

/// <summary>The dtype a model computes in (option dtype) or importance is stored in (option omega-dtype).</summary>
[JsonConverter(typeof(NamedEnumConverter<ComputeDtype>))]
public enum ComputeDtype
{
    [JsonStringEnumMemberName("float32"), AlsoSpelled("fp32", "f32")]
    Float32,

    [JsonStringEnumMemberName("bfloat16"), AlsoSpelled("bf16")]
    BFloat16,

    [JsonStringEnumMemberName("float16"), AlsoSpelled("fp16", "f16")]
    Float16,
}

public static class ComputeDtypes
{
    public static ScalarType ToScalarType(this ComputeDtype d) =>
        d switch
        {
            ComputeDtype.Float32 => ScalarType.Float32,
            ComputeDtype.BFloat16 => ScalarType.BFloat16,
            ComputeDtype.Float16 => ScalarType.Float16,
            _ => throw new ArgumentOutOfRangeException(nameof(d), d, "not a compute dtype"),
        };
}
