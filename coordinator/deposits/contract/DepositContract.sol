// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice The beacon-chain deposit contract as consensus-specs `deposit-contract.md` specifies it, for
/// local chains: the same `deposit` ABI, checks and revert reasons, the same `DepositEvent` (amount and
/// index as 8-byte little-endian), and the same deposit root (an incremental SHA-256 Merkle tree of
/// depth 32 over `DepositData` roots, mixed in with the count), so clients and tests that read the real
/// contract read this one alike. Written for keylease; the official source was read, not copied.
contract DepositContract {
    uint256 private constant TREE_DEPTH = 32;
    /// Leaves a tree of depth 32 can hold, less one: keeps the count within 64 bits and `_insert` finite.
    uint256 private constant MAX_DEPOSIT_COUNT = (1 << TREE_DEPTH) - 1;

    event DepositEvent(bytes pubkey, bytes withdrawal_credentials, bytes amount, bytes signature, bytes index);

    /// branch[h] is the root of the left-most subtree of height h still waiting for its right sibling:
    /// O(depth) storage instead of the whole tree.
    bytes32[TREE_DEPTH] private branch;
    /// zeroHashes[h] is the root of an empty subtree of height h.
    bytes32[TREE_DEPTH] private zeroHashes;
    uint256 private depositCount;

    constructor() {
        for (uint256 h = 0; h + 1 < TREE_DEPTH; h++) {
            zeroHashes[h + 1] = sha256(abi.encodePacked(zeroHashes[h], zeroHashes[h]));
        }
    }

    /// @notice Records a deposit of msg.value (rounded to gwei) for `pubkey`. The signature is not
    /// verified here (the beacon chain does that); `deposit_data_root` guards against malformed calldata.
    function deposit(
        bytes calldata pubkey,
        bytes calldata withdrawal_credentials,
        bytes calldata signature,
        bytes32 deposit_data_root
    ) external payable {
        require(pubkey.length == 48, "DepositContract: invalid pubkey length");
        require(withdrawal_credentials.length == 32, "DepositContract: invalid withdrawal_credentials length");
        require(signature.length == 96, "DepositContract: invalid signature length");

        require(msg.value >= 1 ether, "DepositContract: deposit value too low");
        require(msg.value % 1 gwei == 0, "DepositContract: deposit value not multiple of gwei");
        uint256 amountGwei = msg.value / 1 gwei;
        require(amountGwei <= type(uint64).max, "DepositContract: deposit value too high");

        bytes memory amount = _littleEndian64(uint64(amountGwei));
        bytes32 leaf = _depositDataRoot(pubkey, withdrawal_credentials, amount, signature);
        require(
            leaf == deposit_data_root,
            "DepositContract: reconstructed DepositData does not match supplied deposit_data_root"
        );
        require(depositCount < MAX_DEPOSIT_COUNT, "DepositContract: merkle tree full");

        emit DepositEvent(pubkey, withdrawal_credentials, amount, signature, _littleEndian64(uint64(depositCount)));
        _insert(leaf);
    }

    /// @notice hash_tree_root(List[DepositData, 2**32]) of every deposit so far.
    function get_deposit_root() external view returns (bytes32) {
        bytes32 node;
        uint256 size = depositCount;
        for (uint256 h = 0; h < TREE_DEPTH; h++) {
            node = (size & 1) == 1
                ? sha256(abi.encodePacked(branch[h], node))
                : sha256(abi.encodePacked(node, zeroHashes[h]));
            size >>= 1;
        }
        return sha256(abi.encodePacked(node, _littleEndian64(uint64(depositCount)), bytes24(0)));
    }

    /// @notice The number of deposits, as 8-byte little-endian (the official interface's encoding).
    function get_deposit_count() external view returns (bytes memory) {
        return _littleEndian64(uint64(depositCount));
    }

    /// SSZ hash_tree_root of DepositData{pubkey, withdrawal_credentials, amount, signature}.
    function _depositDataRoot(
        bytes calldata pubkey,
        bytes calldata withdrawalCredentials,
        bytes memory amount,
        bytes calldata signature
    ) private pure returns (bytes32) {
        bytes32 pubkeyRoot = sha256(abi.encodePacked(pubkey, bytes16(0)));
        bytes32 signatureRoot = sha256(
            abi.encodePacked(sha256(abi.encodePacked(signature[:64])), sha256(abi.encodePacked(signature[64:], bytes32(0))))
        );
        return sha256(
            abi.encodePacked(
                sha256(abi.encodePacked(pubkeyRoot, withdrawalCredentials)),
                sha256(abi.encodePacked(amount, bytes24(0), signatureRoot))
            )
        );
    }

    /// Adds a leaf: climbs while the new count is even (the subtree just completed), then parks the node.
    function _insert(bytes32 leaf) private {
        bytes32 node = leaf;
        depositCount += 1;
        uint256 size = depositCount;
        for (uint256 h = 0; h < TREE_DEPTH; h++) {
            if ((size & 1) == 1) {
                branch[h] = node;
                return;
            }
            node = sha256(abi.encodePacked(branch[h], node));
            size >>= 1;
        }
        // Unreachable while depositCount < 2**32: some bit of the new count below bit 32 is set.
        assert(false);
    }

    function _littleEndian64(uint64 value) private pure returns (bytes memory out) {
        out = new bytes(8);
        for (uint256 i = 0; i < 8; i++) {
            out[i] = bytes1(uint8(value >> (8 * i)));
        }
    }
}
