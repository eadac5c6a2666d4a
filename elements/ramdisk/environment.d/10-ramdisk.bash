# Kernel modules the ramdisk loads at boot, in order (their dependencies are added).
export DIB_RAMDISK_MODULES=${DIB_RAMDISK_MODULES:-virtio_pci virtio_blk virtio_net ext4 evdev button}
export INITRD=No  # the ramdisk builds its own initramfs; skip Debian's (saves ~20 s)
