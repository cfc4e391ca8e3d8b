/* KVM probe firmware: 64 KiB image mapped at the top of the first MiB and of 4 GiB.
 * Reset vector (offset 0xfff0) jumps to start (offset 0x0000 -> phys 0xf0000).
 * Goes real mode -> protected mode -> long mode (PAE paging, identity-mapped 1 GiB
 * with a 2 MiB... page), then writes 0x2a to isa-debug-exit (port 0xf4). */
        .code16
        .section .text
        .globl _start
_start:
        cli
        /* each stage writes progress to port 0x80 (ignored) */
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $0x7000, %sp
        /* build page tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD) */
        movw    $0x1000, %di
        xorl    %eax, %eax
        movw    $0x3000/4, %cx
        cld
        rep stosl
        movl    $0x2003, 0x1000
        movl    $0x3003, 0x2000
        movl    $0x00000083, 0x3000      /* 2 MiB page at 0, present|rw|ps */
        /* load GDT (linear address 0xf0000 + gdtr offset) */
        lgdtl   %cs:gdtr - _start
        movl    %cr4, %eax
        orl     $0x20, %eax              /* PAE */
        movl    %eax, %cr4
        movl    $0x1000, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx        /* EFER */
        rdmsr
        orl     $0x100, %eax             /* LME */
        wrmsr
        movl    %cr0, %eax
        orl     $0x80000001, %eax        /* PG | PE */
        movl    %eax, %cr0
        ljmpl   $0x08, $(0xf0000 + long_mode - _start)
        .code64
long_mode:
        movw    $0x10, %ax
        movw    %ax, %ds
        movb    $0x2a, %al
        outb    %al, $0xf4
1:      hlt
        jmp     1b
        .balign 8
gdt:
        .quad   0
        .quad   0x00af9a000000ffff       /* 64-bit code */
        .quad   0x00cf92000000ffff       /* data */
gdtr:
        .word   gdtr - gdt - 1
        .long   0xf0000 + gdt - _start
        .org    0xfff0
reset:
        .code16
        ljmp    $0xf000, $0x0000
        .org    0x10000
