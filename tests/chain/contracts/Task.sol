// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// Test double of an OpenGPU Task: params, expiry and a status driven by the Nexus.
contract Task {
    // NEW 0, ATTEMPTED 1, RESPONDED 2, CANCELED 3, EXPIRED 4, FINALIZED 5
    struct TaskParams {
        address source;
        string config;
        uint256 expiryTime;
        uint256 payment;
    }

    address public immutable nexus;
    address public immutable client;
    TaskParams public taskParams;
    uint8 private status;
    uint256 public attemptCount;

    constructor(address client_, address source, string memory config, uint256 expiryTime) payable {
        nexus = msg.sender;
        client = client_;
        taskParams = TaskParams(source, config, expiryTime, msg.value);
    }

    function getStatus() external view returns (uint8) {
        return status;
    }

    function getExpiryTime() external view returns (uint256) {
        return taskParams.expiryTime;
    }

    function setStatus(uint8 value) external {
        require(msg.sender == nexus, "Task: NotOwner");
        status = value;
    }

    function recordAttempt() external {
        require(msg.sender == nexus, "Task: NotOwner");
        attemptCount += 1;
    }
}
