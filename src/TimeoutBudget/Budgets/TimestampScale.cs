using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace TimeoutBudget;

/// <summary>
/// Exact conversions between <see cref="TimeSpan"/> ticks and one clock's timestamp ticks, in integer arithmetic: the
/// result is the true quotient rounded the way asked (never the nearest double), and anything that would not fit in a
/// <see cref="long"/> saturates at <see cref="long.MaxValue"/> instead of wrapping.
/// </summary>
/// <remarks>
/// <para>Opening a child converts three times (the parent's remaining time, the deduction for reserve and margin, the
/// child's timeout); <see cref="TimeProvider.GetElapsedTime(long, long)"/> and a multiplication by a double ratio each
/// read the virtual frequency and divide or multiply in floating point, and a double is exact only up to 2^53.</para>
/// <para>The common clocks take a path of their own, inlined, with constant divisors, which the JIT turns into
/// multiplications: a frequency of 10^9 (the system clock on Linux and macOS: 100 timestamp ticks per
/// <see cref="TimeSpan"/> tick) and 10^7 (the system clock on most Windows machines, and <c>FakeTimeProvider</c>: one to
/// one). Any other frequency is exact too, through a whole-seconds split.</para>
/// </remarks>
internal sealed class TimestampScale
{
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;

    // Above this frequency the whole-seconds split could overflow a long (a remainder below 10^7 times the frequency):
    // such a clock (none exists; 10^9 is the finest in use) converts through 128-bit integers instead.
    private const long SplitLimit = long.MaxValue / TicksPerSecond;

    private readonly Kind _kind;

    // The frequency in timestamp ticks per second.
    private readonly long _frequency;

    // For Kind.Multiple: timestamp ticks per TimeSpan tick. For Kind.Divisor: TimeSpan ticks per timestamp tick.
    private readonly long _factor;

    // For Kind.Multiple: the most TimeSpan ticks that convert without overflow. For Kind.Divisor: the most timestamp ticks.
    private readonly long _limit;

    // For Kind.General: the most whole seconds whose timestamp ticks fit in a long, and whose TimeSpan ticks do.
    private readonly long _maxSecondsToTimestamp;
    private readonly long _maxSecondsToTicks;

    /// <summary>Prepares the conversions for a clock of <paramref name="frequency"/> timestamp ticks per second.</summary>
    /// <param name="frequency">Timestamp ticks per second; positive.</param>
    public TimestampScale(long frequency)
    {
        if (frequency <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(frequency), frequency, "A clock's timestamp frequency must be positive.");
        }

        _frequency = frequency;
        if (frequency == TicksPerSecond)
        {
            _kind = Kind.Same;
        }
        else if (frequency == 1_000_000_000)
        {
            _kind = Kind.Nanoseconds;
        }
        else if (frequency % TicksPerSecond == 0)
        {
            _kind = Kind.Multiple;
            _factor = frequency / TicksPerSecond;
            _limit = long.MaxValue / _factor;
        }
        else if (TicksPerSecond % frequency == 0)
        {
            _kind = Kind.Divisor;
            _factor = TicksPerSecond / frequency;
            _limit = long.MaxValue / _factor;
        }
        else if (frequency <= SplitLimit)
        {
            _kind = Kind.General;
            _maxSecondsToTimestamp = long.MaxValue / frequency;
            _maxSecondsToTicks = long.MaxValue / TicksPerSecond;
        }
        else
        {
            _kind = Kind.Wide;
        }
    }

    private enum Kind
    {
        Same,
        Nanoseconds,
        Multiple,
        Divisor,
        General,
        Wide,
    }

    /// <summary>The clock's frequency, in timestamp ticks per second.</summary>
    public long Frequency => _frequency;

    /// <summary>
    /// The timestamp ticks in a duration of <paramref name="ticks"/> <see cref="TimeSpan"/> ticks: rounded down, or up when
    /// <paramref name="roundUp"/> (for a deduction that must never come out short). Zero for zero or less; saturates at
    /// <see cref="long.MaxValue"/>.
    /// </summary>
    /// <param name="ticks">The duration in <see cref="TimeSpan"/> ticks.</param>
    /// <param name="roundUp">Round a fractional result up instead of down.</param>
    /// <returns>The duration in timestamp ticks.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ToTimestampTicks(long ticks, bool roundUp)
    {
        // The system clocks (10^9 on Linux and macOS, 10^7 on Windows and in tests) inline into a child's opening, which
        // converts twice: a call each cost more than the conversion (issue 15, twelfth slice).
        if (_kind == Kind.Nanoseconds)
        {
            return ticks > long.MaxValue / 100 ? long.MaxValue : Math.Max(ticks, 0) * 100;
        }

        return _kind == Kind.Same ? Math.Max(ticks, 0) : ToTimestampTicksAtOtherFrequency(ticks, roundUp);
    }

    private long ToTimestampTicksAtOtherFrequency(long ticks, bool roundUp)
    {
        if (ticks <= 0)
        {
            return 0;
        }

        switch (_kind)
        {
            case Kind.Multiple:
                return ticks <= _limit ? ticks * _factor : long.MaxValue;
            case Kind.Divisor:
            {
                var quotient = ticks / _factor;
                return roundUp && quotient * _factor != ticks ? quotient + 1 : quotient;
            }

            case Kind.General:
            {
                // ticks = seconds * 10^7 + rest: whole seconds convert exactly, and rest * frequency < 10^7 * frequency fits.
                var seconds = ticks / TicksPerSecond;
                var rest = ticks - (seconds * TicksPerSecond);
                if (seconds > _maxSecondsToTimestamp)
                {
                    return long.MaxValue;
                }

                var product = rest * _frequency;
                var fraction = product / TicksPerSecond;
                if (roundUp && fraction * TicksPerSecond != product)
                {
                    fraction++;
                }

                var whole = seconds * _frequency;
                return whole <= long.MaxValue - fraction ? whole + fraction : long.MaxValue;
            }

            case Kind.Wide:
                return Saturate(Divide((Int128)ticks * _frequency, TicksPerSecond, roundUp));
            default:
                throw new UnreachableException();
        }
    }

    /// <summary>
    /// The <see cref="TimeSpan"/> ticks in <paramref name="timestampTicks"/> timestamp ticks, rounded down (a remaining
    /// time is never overstated). Zero for zero or less; saturates at <see cref="long.MaxValue"/>.
    /// </summary>
    /// <param name="timestampTicks">A duration in timestamp ticks, such as a deadline minus now.</param>
    /// <returns>The duration in <see cref="TimeSpan"/> ticks.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ToTimeSpanTicks(long timestampTicks)
    {
        // As above: the system clocks inline (unsigned, the division by a constant is one multiplication and a shift).
        if (_kind == Kind.Nanoseconds)
        {
            return (long)((ulong)Math.Max(timestampTicks, 0) / 100);
        }

        return _kind == Kind.Same ? Math.Max(timestampTicks, 0) : ToTimeSpanTicksAtOtherFrequency(timestampTicks);
    }

    private long ToTimeSpanTicksAtOtherFrequency(long timestampTicks)
    {
        if (timestampTicks <= 0)
        {
            return 0;
        }

        switch (_kind)
        {
            case Kind.Multiple:
                return timestampTicks / _factor;
            case Kind.Divisor:
                return timestampTicks <= _limit ? timestampTicks * _factor : long.MaxValue;
            case Kind.General:
            {
                var (seconds, rest) = Math.DivRem(timestampTicks, _frequency);
                if (seconds > _maxSecondsToTicks)
                {
                    return long.MaxValue;
                }

                // rest < frequency <= SplitLimit, so rest * 10^7 fits.
                var whole = seconds * TicksPerSecond;
                var fraction = rest * TicksPerSecond / _frequency;
                return whole <= long.MaxValue - fraction ? whole + fraction : long.MaxValue;
            }

            case Kind.Wide:
                return Saturate(Divide((Int128)timestampTicks * TicksPerSecond, _frequency, roundUp: false));
            default:
                throw new UnreachableException();
        }
    }

    /// <summary>The <see cref="TimeSpan"/> from <paramref name="start"/> to <paramref name="end"/>, rounded down; zero when <paramref name="end"/> is not later.</summary>
    /// <param name="start">A timestamp.</param>
    /// <param name="end">A later timestamp.</param>
    /// <returns>The time between them.</returns>
    public TimeSpan Between(long start, long end) => new(ToTimeSpanTicks(end - start));

    private static Int128 Divide(Int128 dividend, long divisor, bool roundUp)
    {
        var quotient = dividend / divisor;
        return roundUp && quotient * divisor != dividend ? quotient + 1 : quotient;
    }

    private static long Saturate(Int128 value) => value > long.MaxValue ? long.MaxValue : (long)value;
}
