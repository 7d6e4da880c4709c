// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// Test double of an OpenGPU Source: a client's docker source with a status and a lockup floor.
contract Source {
    uint8 public constant ACTIVE = 0;
    uint8 public constant INACTIVE = 1;

    address public immutable nexus;
    address public immutable client;
    uint256 public immutable minLockup;
    uint8 private status;

    constructor(address client_, uint256 minLockup_) {
        nexus = msg.sender;
        client = client_;
        minLockup = minLockup_;
    }

    function getStatus() external view returns (uint8) {
        return status;
    }

    function setStatus(uint8 value) external {
        require(msg.sender == nexus, "NotOwner");
        status = value;
    }
}
