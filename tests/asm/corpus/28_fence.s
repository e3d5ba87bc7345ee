# fence and its variants.
    .text
_start:
    fence
    fence iorw, iorw
    fence rw, rw
    fence r, r
    fence w, w
    fence r, rw
    fence rw, w
    fence i, o
    fence io, io
    fence ow, ir
    fence.tso
    fence.i
    ret
