using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Runtime;

/// <summary>
/// Tensor arithmetic with a number, written so that every <see cref="Scalar"/> handed to libtorch is kept alive by
/// this code until the native call has returned.
/// <para>
/// Why: TorchSharp 0.107 passes a Scalar to libtorch by its raw handle and frees it in its finalizer. A Scalar made
/// by an implicit conversion (<c>x * 0.5</c>, <c>x.pow(2)</c>, <c>x.clamp_min(0)</c>) or inside TorchSharp (the
/// alpha = 1 of <c>Tensor.add(Tensor)</c> and of <c>x + y</c>, the 0 and 1 of <c>arange(n)</c>) is unreachable once
/// its handle has been read, so a collection on any thread during the call lets the finalizer thread free the
/// <c>c10::Scalar</c> while libtorch reads it: "Expected false to be true" from <c>Scalar::toFloat</c>, "Unknown
/// scalar type", or a wrong number. Here each Scalar is either a static (alive for the process) or a local disposed
/// in a <c>finally</c> after the call, which the JIT cannot shorten. No collection, whenever it comes, can free one.
/// </para>
/// <para>
/// The rule for the rest of Alora, which <c>tests/Alora.Tests/Runtime/ScalarLifetimeAuditTests.cs</c> enforces on the
/// compiled code: no implicit conversion to Scalar, no TorchSharp method that makes a Scalar it does not keep alive
/// (the test finds those by reading TorchSharp's own IL), and an explicit Scalar only in a <c>using</c> local or a
/// field. Tensor - Tensor (<c>sub</c>), Tensor * Tensor and unary operators make no Scalar and stay as they are.
/// </para>
/// </summary>
public static class ScalarOps
{
    // int Scalars, as TorchSharp's own defaults: an integral alpha is accepted by integer and floating tensors alike
    static readonly Scalar One = 1.ToScalar();
    static readonly Scalar Two = 2.ToScalar();

    /// <summary>a + b (torch.add with alpha 1).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor Plus_(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a += alpha * b, in place (one fused libtorch call).</summary>
    public static Tensor Plus_(this Tensor a, Tensor b, double alpha)
    {
        using var s = alpha.ToScalar();
        return a.add_(b, s);
    }

    /// <summary>a + c.</summary>
    public static Tensor Plus(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.add(s, One);
    }

    /// <summary>a += c, in place.</summary>
    public static Tensor Plus_(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.add_(s, One);
    }

    /// <summary>a * c.</summary>
    public static Tensor Times(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.mul(s);
    }

    /// <summary>a *= c, in place.</summary>
    public static Tensor Times_(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.mul_(s);
    }

    /// <summary>a / c.</summary>
    public static Tensor DividedBy(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.div(s);
    }

    /// <summary>a /= c, in place.</summary>
    public static Tensor DividedBy_(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.div_(s);
    }

    /// <summary>a^2 element-wise (torch.pow with the integer exponent 2, as Tensor.square).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary>a &lt; c element-wise (a bool tensor).</summary>
    public static Tensor LessThan(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.lt(s);
    }

    /// <summary>max(a, min) element-wise.</summary>
    public static Tensor ClampMin(this Tensor a, double min)
    {
        using var s = min.ToScalar();
        return a.clamp_min(s);
    }

    /// <summary>a += value * t1 * t2, in place.</summary>
    public static Tensor Addcmul_(this Tensor a, Tensor t1, Tensor t2, double value)
    {
        using var s = value.ToScalar();
        return a.addcmul_(t1, t2, s);
    }

    /// <summary>a += value * t1 / t2, in place.</summary>
    public static Tensor Addcdiv_(this Tensor a, Tensor t1, Tensor t2, double value)
    {
        using var s = value.ToScalar();
        return a.addcdiv_(t1, t2, s);
    }

    /// <summary>Every element of a set to c, in place.</summary>
    public static Tensor Fill_(this Tensor a, double c)
    {
        using var s = c.ToScalar();
        return a.fill_(s);
    }

    /// <summary>[0, 1, ..., n - 1] (torch.arange(n)).</summary>
    public static Tensor Arange(long n, ScalarType dtype, Device device) => Arange(0, n, dtype, device);

    /// <summary>[from, from + 1, ..., to - 1] (torch.arange(from, to)).</summary>
    public static Tensor Arange(long from, long to, ScalarType dtype, Device device)
    {
        using var start = from.ToScalar();
        using var stop = to.ToScalar();
        using var step = 1L.ToScalar();
        return arange(start, stop, step, dtype, device);
    }
}
