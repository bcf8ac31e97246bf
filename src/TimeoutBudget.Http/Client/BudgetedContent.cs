using System.Net;

namespace TimeoutBudget.Http;

/// <summary>
/// A response body read under the request's budget: a peer that sends the head and then drips the body cannot hold the
/// caller past the request layer's deadline, and running out there names that layer. The budget ends when the body has
/// been read to its end or the content is disposed.
/// </summary>
internal sealed class BudgetedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Budget _budget;

    public BudgetedContent(HttpContent inner, Budget budget)
    {
        _inner = inner;
        _budget = budget;
        foreach (var header in inner.Headers)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
    {
        var stream = new BudgetedStream(_budget);
        try
        {
            stream.Attach(await _inner.ReadAsStreamAsync(stream.TokenFor(cancellationToken)).ConfigureAwait(false));
            return stream;
        }
        catch (Exception exception) when (stream.ExpiryOf(exception, cancellationToken) is { } expiry)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw expiry;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? 0;
        return _inner.Headers.ContentLength.HasValue;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _budget.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The body stream, read with the budget's token joined to the reader's.</summary>
    private sealed class BudgetedStream(Budget budget) : Stream
    {
        private Stream? _inner;
        private CancellationTokenSource? _linked;
        private CancellationToken _linkedFor;
        private bool _ended;

        public void Attach(Stream inner) => _inner = inner;

        private Stream Inner => _inner ?? throw new ObjectDisposedException(nameof(BudgetedStream));

        /// <summary>The budget's token, joined to <paramref name="cancellationToken"/>; readers pass the same token on every read, so one link serves them all.</summary>
        public CancellationToken TokenFor(CancellationToken cancellationToken)
        {
            if (_ended)
            {
                return cancellationToken; // the budget is over (and its token may serve another budget now)
            }

            if (!cancellationToken.CanBeCanceled || cancellationToken == budget.Token)
            {
                return budget.Token;
            }

            if (_linked is null || _linkedFor != cancellationToken)
            {
                _linked?.Dispose();
                _linked = CancellationTokenSource.CreateLinkedTokenSource(budget.Token, cancellationToken);
                _linkedFor = cancellationToken;
            }

            return _linked.Token;
        }

        /// <summary>
        /// The layer's expiry when that is why the read failed: its deadline has passed (even if the reader was cancelled
        /// too, by an enclosing layer whose timer happened to fire first), or its token ended the read.
        /// </summary>
        public BudgetExhaustedException? ExpiryOf(Exception exception, CancellationToken reader)
        {
            if (_ended || !budget.IsExpired && (!budget.Token.IsCancellationRequested || reader.IsCancellationRequested))
            {
                return null;
            }

            return budget.AsExpiry(exception as OperationCanceledException ?? new OperationCanceledException(exception.Message, exception, budget.Token));
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                var read = await Inner.ReadAsync(buffer, TokenFor(cancellationToken)).ConfigureAwait(false);
                if (read == 0 && buffer.Length > 0)
                {
                    End(); // the whole body is in: the layer's work is done
                }

                return read;
            }
            catch (Exception exception) when (ExpiryOf(exception, cancellationToken) is { } expiry)
            {
                throw expiry;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            // A synchronous read cannot take a token: the budget's expiry closes the stream under it instead.
            using var abort = _ended ? default : budget.Token.UnsafeRegister(static state => ((Stream)state!).Dispose(), Inner);
            try
            {
                var read = Inner.Read(buffer);
                if (read == 0 && buffer.Length > 0)
                {
                    End();
                }

                return read;
            }
            catch (Exception exception) when (ExpiryOf(exception, CancellationToken.None) is { } expiry)
            {
                throw expiry;
            }
        }

        private void End()
        {
            _ended = true;
            budget.Dispose();
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner?.Dispose();
                _linked?.Dispose();
                End();
            }

            base.Dispose(disposing);
        }
    }
}
